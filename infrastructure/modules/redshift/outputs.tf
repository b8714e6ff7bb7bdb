output "endpoint_address" {
  description = "Host name of the workgroup endpoint (config key warehouse.redshift.host)."
  value       = aws_redshiftserverless_workgroup.this.endpoint[0].address
}

output "port" {
  description = "Port of the workgroup endpoint (config key warehouse.redshift.port)."
  value       = aws_redshiftserverless_workgroup.this.endpoint[0].port
}

output "database_name" {
  description = "Database of the namespace (config key warehouse.redshift.database)."
  value       = aws_redshiftserverless_namespace.this.db_name
}

output "namespace_name" {
  description = "Name of the Redshift Serverless namespace."
  value       = aws_redshiftserverless_namespace.this.namespace_name
}

output "namespace_arn" {
  description = "ARN of the Redshift Serverless namespace."
  value       = aws_redshiftserverless_namespace.this.arn
}

output "workgroup_name" {
  description = "Name of the Redshift Serverless workgroup."
  value       = aws_redshiftserverless_workgroup.this.workgroup_name
}

output "workgroup_arn" {
  description = "ARN of the Redshift Serverless workgroup."
  value       = aws_redshiftserverless_workgroup.this.arn
}

output "admin_password_secret_arn" {
  description = "ARN of the Secrets Manager secret Redshift manages for the admin password."
  value       = aws_redshiftserverless_namespace.this.admin_password_secret_arn
}

output "security_group_id" {
  description = "Security group of the workgroup."
  value       = aws_security_group.this.id
}
