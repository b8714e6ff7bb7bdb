variable "project" {
  description = "Project name, first part of every resource name."
  type        = string
  default     = "trending-now"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be lower-case letters, digits and dashes (it is part of bucket names)."
  }
}

variable "environment" {
  description = "Environment name, matching APP_ENV and config/<environment>.yaml: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "aws_region" {
  description = "AWS region of the environment (config key aws.region)."
  type        = string
}

variable "tags" {
  description = "Extra tags added to every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

# ---- network ----
variable "vpc_cidr" {
  description = "CIDR block of the environment's VPC."
  type        = string
}

variable "az_count" {
  description = "Number of Availability Zones (Redshift Serverless needs 3)."
  type        = number
  default     = 3
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (dev/staging) instead of one per AZ (prod)."
  type        = bool
  default     = false
}

variable "enable_interface_endpoints" {
  description = "Create interface VPC endpoints for Secrets Manager, CloudWatch Logs and STS."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the VPC flow logs and S3 access logs."
  type        = number
  default     = 365
}

# ---- kms / s3 / secrets ----
variable "kms_deletion_window_in_days" {
  description = "Waiting period before the environment's KMS key is deleted (7-30)."
  type        = number
  default     = 30
}

variable "force_destroy_buckets" {
  description = "Let `terraform destroy` delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "dlt_staging_expiration_days" {
  description = "Days dlt's parquet staging files are kept in the raw bucket."
  type        = number
  default     = 14
}

variable "noncurrent_version_expiration_days" {
  description = "Days non-current object versions are kept in the data buckets."
  type        = number
  default     = 90
}

variable "secret_recovery_window_in_days" {
  description = "Days a deleted secret can be restored (0 or 7-30)."
  type        = number
  default     = 30
}

# ---- redshift ----
variable "redshift_database_name" {
  description = "Database of the Redshift Serverless namespace (config key warehouse.redshift.database)."
  type        = string
  default     = "trending_now"
}

variable "redshift_admin_username" {
  description = "Admin user of the namespace (its password is managed by Redshift in Secrets Manager)."
  type        = string
  default     = "trending_now_admin"
}

variable "redshift_base_capacity" {
  description = "Base RPUs of the Redshift Serverless workgroup."
  type        = number
  default     = 8
}

variable "redshift_max_capacity" {
  description = "Maximum RPUs of the Redshift Serverless workgroup (cost ceiling)."
  type        = number
  default     = 32
}

variable "redshift_usage_limit_rpu_hours_per_day" {
  description = "Daily RPU-hour limit of the workgroup (0: none)."
  type        = number
  default     = 0
}

variable "redshift_usage_limit_breach_action" {
  description = "Action when the daily RPU-hour limit is reached: log, emit-metric or deactivate."
  type        = string
  default     = "log"
}

variable "redshift_allowed_cidr_blocks" {
  description = "Extra private CIDR blocks allowed to reach Redshift (e.g. a self-hosted CI runner subnet for dbt build and integration tests)."
  type        = list(string)
  default     = []
}

# ---- mwaa ----
variable "mwaa_environment_class" {
  description = "MWAA environment class."
  type        = string
  default     = "mw1.small"
}

variable "mwaa_min_workers" {
  description = "Minimum number of MWAA workers."
  type        = number
  default     = 1
}

variable "mwaa_max_workers" {
  description = "Maximum number of MWAA workers."
  type        = number
  default     = 2
}

variable "mwaa_schedulers" {
  description = "Number of MWAA schedulers."
  type        = number
  default     = 2
}

variable "mwaa_requirements_file" {
  # Written with plugins.zip by `make mwaa-wheelhouse` (scripts/mwaa_wheelhouse.py) from requirements-mwaa.txt:
  # runtime only, compiled for MWAA's Airflow and Python (`make lock-mwaa`), installed --no-index from
  # the wheels of plugins.zip. requirements.txt (the development lock: pytest, checkov...) is not for MWAA.
  description = "Requirements file (relative to infrastructure/) that Terraform uploads as <mwaa bucket>/requirements.txt; null for none."
  type        = string
  default     = "../build/mwaa/requirements.txt"
}

variable "mwaa_plugins_file" {
  # The wheelhouse the requirements file installs from (MWAA unpacks it to /usr/local/airflow/plugins).
  description = "plugins.zip (relative to infrastructure/) that Terraform uploads as <mwaa bucket>/plugins.zip; null for none (then the requirements install from PyPI)."
  type        = string
  default     = "../build/mwaa/plugins.zip"
}

variable "mwaa_airflow_configuration_options" {
  # Sized from measured memory per task: docs/airflow.md, "Sizing".
  description = "Airflow configuration options of the environment (celery.worker_autoscale, core.parallelism...), merged over the module's."
  type        = map(string)
  default     = {}
}

variable "mwaa_webserver_access_mode" {
  description = "PRIVATE_ONLY or PUBLIC_ONLY access to the Airflow UI."
  type        = string
  default     = "PRIVATE_ONLY"
}

# ---- CI/CD ----
variable "github_repository" {
  description = "GitHub repository (\"owner/name\") whose deploy jobs may assume the deploy role."
  type        = string
}

variable "github_environment" {
  description = "GitHub Actions environment of the deploy jobs for this environment (staging, production)."
  type        = string
}

variable "terraform_state_bucket" {
  description = "State bucket created by infrastructure/bootstrap (must equal `bucket` in environments/<env>.backend.hcl)."
  type        = string
}

variable "terraform_lock_table" {
  description = "Lock table created by infrastructure/bootstrap (must equal `dynamodb_table` in environments/<env>.backend.hcl)."
  type        = string
}
