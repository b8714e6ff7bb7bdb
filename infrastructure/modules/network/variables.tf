variable "name_prefix" {
  description = "Prefix of every resource name, \"<project>-<environment>\"."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC (a /16 to /20). Subnets are carved out of it with cidrsubnet()."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "az_count" {
  description = "Number of Availability Zones (one private and one public subnet each). Redshift Serverless needs subnets in 3 AZs."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 3 && var.az_count <= 6
    error_message = "az_count must be between 3 and 6 (Redshift Serverless needs three AZs)."
  }
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (cheaper, for dev/staging) instead of one per AZ (highly available, for prod)."
  type        = bool
  default     = false
}

variable "enable_interface_endpoints" {
  description = "Create interface VPC endpoints (Secrets Manager, CloudWatch Logs, STS) so that traffic to them stays off the NAT gateway. The S3 gateway endpoint is always created (it is free)."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group in CloudWatch Logs."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow log group."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
