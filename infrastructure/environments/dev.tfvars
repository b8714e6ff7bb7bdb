# Environment "dev". Apply with:
#   terraform init -backend-config=environments/dev.backend.hcl
#   terraform apply -var-file=environments/dev.tfvars
environment = "dev"
aws_region  = "us-east-1"

# Replace with the repository that runs .github/workflows/cd_*.yml.
github_repository  = "trending-now/trending-now"
github_environment = "dev"

# Created by infrastructure/bootstrap; must match environments/dev.backend.hcl.
terraform_state_bucket = "trending-now-tfstate-dev"
terraform_lock_table   = "trending-now-tf-locks"

vpc_cidr                   = "10.10.0.0/16"
single_nat_gateway         = true
enable_interface_endpoints = false

kms_deletion_window_in_days    = 7
force_destroy_buckets          = true
secret_recovery_window_in_days = 7

redshift_base_capacity                 = 8
redshift_max_capacity                  = 16
redshift_usage_limit_rpu_hours_per_day = 8
redshift_usage_limit_breach_action     = "deactivate"

mwaa_environment_class = "mw1.small"
mwaa_min_workers       = 1
mwaa_max_workers       = 2
mwaa_schedulers        = 2

tags = {
  CostCenter = "data-platform"
}
