# Environment "staging". Apply with:
#   terraform init -backend-config=environments/staging.backend.hcl
#   terraform apply -var-file=environments/staging.tfvars
environment = "staging"
aws_region  = "us-east-1"

# Replace with the repository that runs .github/workflows/cd_*.yml.
github_repository  = "trending-now/trending-now"
github_environment = "staging"

# Created by infrastructure/bootstrap; must match environments/staging.backend.hcl.
terraform_state_bucket = "trending-now-tfstate-staging"
terraform_lock_table   = "trending-now-tf-locks"

vpc_cidr                   = "10.20.0.0/16"
single_nat_gateway         = true
enable_interface_endpoints = false

kms_deletion_window_in_days    = 30
force_destroy_buckets          = false
secret_recovery_window_in_days = 7

redshift_base_capacity                 = 8
redshift_max_capacity                  = 32
redshift_usage_limit_rpu_hours_per_day = 16
redshift_usage_limit_breach_action     = "deactivate"

# Sized from measured memory per task (bench/bench_memory.py): docs/airflow.md, "Sizing".
mwaa_environment_class = "mw1.small"
mwaa_min_workers       = 1
mwaa_max_workers       = 2
mwaa_schedulers        = 2
mwaa_airflow_configuration_options = {
  "celery.worker_autoscale"           = "5,5"
  "core.default_pool_task_slot_count" = "10"
}

tags = {
  CostCenter = "data-platform"
}
