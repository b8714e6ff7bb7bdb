variable "name_prefix" {
  description = "Prefix of every bucket name, \"<project>-<environment>\"."
  type        = string
}

variable "account_id" {
  description = "AWS account id, appended to bucket names to make them globally unique."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the default SSE-KMS encryption of the data buckets."
  type        = string
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "dlt_staging_expiration_days" {
  description = "Days after which dlt's parquet staging files under s3://<raw>/dlt-staging/ expire (they are loaded by COPY within minutes)."
  type        = number
  default     = 14
}

variable "raw_infrequent_access_days" {
  description = "Days after which raw objects move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "raw_glacier_days" {
  description = "Days after which raw objects move to GLACIER_IR."
  type        = number
  default     = 90
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which non-current object versions are deleted."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "Days the S3 server access logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
