variable "environment_name" {
  description = "Name of the MWAA environment (\"<project>-<environment>\")."
  type        = string
}

variable "environment_class" {
  description = "MWAA environment class (mw1.small, mw1.medium, mw1.large, ...)."
  type        = string
  default     = "mw1.small"
}

variable "min_workers" {
  description = "Minimum number of Celery workers."
  type        = number
  default     = 1
}

variable "max_workers" {
  description = "Maximum number of Celery workers."
  type        = number
  default     = 2
}

variable "schedulers" {
  description = "Number of schedulers (2 or more for high availability)."
  type        = number
  default     = 2
}

variable "execution_role_arn" {
  description = "ARN of the MWAA execution role (modules/iam)."
  type        = string
}

variable "source_bucket_arn" {
  description = "ARN of the MWAA source bucket (name starting with \"airflow-\", versioned)."
  type        = string
}

variable "source_bucket_name" {
  description = "Name of the MWAA source bucket."
  type        = string
}

variable "dag_s3_path" {
  description = "Folder of the DAGs (and the project packages CD syncs next to them) in the source bucket."
  type        = string
  default     = "dags"
}

variable "requirements_file" {
  description = "Local path of the requirements file Terraform uploads to <bucket>/requirements.txt (written from requirements-mwaa.txt by scripts/mwaa_wheelhouse.py, for this module's Airflow). null: no requirements."
  type        = string
  default     = null
}

variable "plugins_file" {
  description = "Local path of a plugins.zip Terraform uploads to <bucket>/plugins.zip: the wheelhouse the requirements file installs from offline (scripts/mwaa_wheelhouse.py). null: no plugins."
  type        = string
  default     = null
}

variable "app_env" {
  description = "APP_ENV exported to the workers by the startup script (dev | staging | prod), selecting config/<APP_ENV>.yaml."
  type        = string
}

variable "connections_prefix" {
  description = "Secrets Manager prefix of Airflow connections (modules/secrets)."
  type        = string
}

variable "variables_prefix" {
  description = "Secrets Manager prefix of Airflow variables (modules/secrets)."
  type        = string
}

variable "airflow_configuration_options" {
  description = "Extra Airflow configuration options (merged over the module's defaults)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key encrypting the environment and its uploaded objects."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the environment."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the environment (MWAA takes exactly two, in two AZs; extra ones are ignored)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "MWAA needs two private subnets."
  }
}

variable "webserver_access_mode" {
  description = "PRIVATE_ONLY (the Airflow UI is reachable from the VPC only) or PUBLIC_ONLY."
  type        = string
  default     = "PRIVATE_ONLY"

  validation {
    condition     = contains(["PRIVATE_ONLY", "PUBLIC_ONLY"], var.webserver_access_mode)
    error_message = "webserver_access_mode must be PRIVATE_ONLY or PUBLIC_ONLY."
  }
}

variable "log_level" {
  description = "Level of the Airflow logs sent to CloudWatch (task logs always at INFO or finer)."
  type        = string
  default     = "INFO"
}

variable "weekly_maintenance_window_start" {
  description = "Start of the weekly maintenance window, DAY:HH:MM in UTC."
  type        = string
  default     = "SUN:03:00"
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
