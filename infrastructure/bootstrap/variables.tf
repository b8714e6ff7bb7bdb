variable "aws_region" {
  description = "Region of the state bucket and the lock table."
  type        = string
  default     = "us-east-1"
}

variable "state_bucket_name" {
  description = "Name of the Terraform state bucket (globally unique); environments/<env>.backend.hcl `bucket`."
  type        = string
}

variable "lock_table_name" {
  description = "Name of the DynamoDB lock table; environments/<env>.backend.hcl `dynamodb_table`."
  type        = string
  default     = "trending-now-tf-locks"
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC identity provider (one per account: false if it already exists)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = { Project = "trending-now", ManagedBy = "terraform-bootstrap" }
}
