output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Ids of the private subnets, one per AZ, in AZ order."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Ids of the public subnets (NAT gateways only)."
  value       = aws_subnet.public[*].id
}

output "private_route_table_ids" {
  description = "Ids of the private route tables."
  value       = aws_route_table.private[*].id
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint, for security group egress rules to S3."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways (what third-party APIs see)."
  value       = aws_eip.nat[*].public_ip
}
