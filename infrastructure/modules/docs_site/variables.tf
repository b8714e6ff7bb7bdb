variable "name_prefix" {
  description = "Prefix of every resource name (<project>-<environment>)"
  type        = string
}

variable "account_id" {
  description = "AWS account id (keeps the bucket name globally unique)"
  type        = string
}

variable "access_logs_bucket_name" {
  description = "The environment's server access log bucket (module s3), which receives this bucket's access logs"
  type        = string
}

variable "force_destroy" {
  description = "Allow destroying the bucket with its objects (dev only)"
  type        = bool
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced version of a page is kept"
  type        = number
}

variable "price_class" {
  description = "CloudFront price class (PriceClass_100: North America and Europe edges only)"
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource"
  type        = map(string)
}
