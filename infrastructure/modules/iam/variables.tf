variable "name_prefix" {
  description = "Prefix of every IAM role and policy name, \"<project>-<environment>\"."
  type        = string
}

variable "secret_prefix" {
  description = "Name prefix of the environment's Secrets Manager secrets, \"<project>/<environment>\"."
  type        = string
}

variable "mwaa_environment_name" {
  description = "Name of the MWAA environment (its ARN and log group names are derived from it)."
  type        = string
}

variable "mwaa_bucket_arn" {
  description = "ARN of the MWAA source bucket (DAGs, requirements.txt)."
  type        = string
}

variable "raw_bucket_arn" {
  description = "ARN of the raw bucket (dlt parquet staging, COPY source)."
  type        = string
}

variable "processed_bucket_arn" {
  description = "ARN of the processed bucket (exports)."
  type        = string
}

variable "dvc_bucket_arn" {
  description = "ARN of the DVC remote bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the environment's KMS key."
  type        = string
}

variable "redshift_workgroup_arn" {
  description = "ARN of the Redshift Serverless workgroup (Data API and GetCredentials are scoped to it)."
  type        = string
}

variable "github_repository" {
  description = "GitHub repository allowed to assume the deploy role, as \"owner/name\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like \"owner/name\"."
  }
}

variable "github_environment" {
  description = "GitHub Actions environment whose jobs may assume the deploy role (\"staging\", \"production\", ...)."
  type        = string
}

variable "terraform_state_bucket" {
  description = "S3 bucket holding the Terraform state (from infrastructure/bootstrap)."
  type        = string
}

variable "terraform_state_key_prefix" {
  description = "Key prefix of this environment's state objects in the state bucket (\"<project>/<environment>\")."
  type        = string
}

variable "terraform_lock_table" {
  description = "DynamoDB table holding the Terraform state locks (from infrastructure/bootstrap)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
