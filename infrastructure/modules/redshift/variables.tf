variable "name_prefix" {
  description = "Prefix of every resource name, \"<project>-<environment>\"; also the namespace and workgroup name."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the workgroup."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the workgroup (Redshift Serverless needs subnets in at least three AZs)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 3
    error_message = "Redshift Serverless needs at least three subnets in three Availability Zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on the Redshift port (the MWAA environment's group)."
  type        = list(string)
  default     = []
}

variable "allowed_cidr_blocks" {
  description = "Extra CIDR blocks allowed to connect on the Redshift port (e.g. the subnet of a self-hosted CI runner that runs dbt build). Never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.allowed_cidr_blocks, "0.0.0.0/0")
    error_message = "The workgroup is private: 0.0.0.0/0 is not allowed."
  }
}

variable "s3_prefix_list_id" {
  description = "Prefix list of the VPC's S3 gateway endpoint: with enhanced VPC routing, COPY reads the raw bucket through it."
  type        = string
}

variable "database_name" {
  description = "Name of the database created in the namespace (config key warehouse.redshift.database)."
  type        = string
  default     = "trending_now"
}

variable "admin_username" {
  description = "Admin user of the namespace. Its password is generated and kept in Secrets Manager by Redshift (manage_admin_password)."
  type        = string
  default     = "trending_now_admin"
}

variable "port" {
  description = "Port of the workgroup endpoint."
  type        = number
  default     = 5439
}

variable "kms_key_arn" {
  description = "KMS key encrypting the namespace and the managed admin password secret."
  type        = string
}

variable "iam_role_arns" {
  description = "IAM roles the namespace may assume (the COPY role)."
  type        = list(string)
}

variable "default_iam_role_arn" {
  description = "IAM role used by COPY/UNLOAD when IAM_ROLE default is given."
  type        = string
}

variable "base_capacity" {
  description = "Base capacity of the workgroup in RPUs (8 to 512, steps of 8)."
  type        = number
  default     = 8
}

variable "max_capacity" {
  description = "Maximum capacity of the workgroup in RPUs (cost ceiling)."
  type        = number
  default     = 32
}

variable "usage_limit_rpu_hours_per_day" {
  description = "Daily RPU-hour usage limit; when reached, breach_action applies. 0 disables the limit."
  type        = number
  default     = 0
}

variable "usage_limit_breach_action" {
  description = "What happens when the daily usage limit is reached: log, emit-metric or deactivate."
  type        = string
  default     = "log"

  validation {
    condition     = contains(["log", "emit-metric", "deactivate"], var.usage_limit_breach_action)
    error_message = "usage_limit_breach_action must be log, emit-metric or deactivate."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
