provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

locals {
  name_prefix = "${var.project}-${var.environment}"
  # Secrets are named "<project>/<environment>"; the app secret is exactly this name.
  secret_prefix = "${var.project}/${var.environment}"
  # The backend key of this environment is "<project>/<environment>/terraform.tfstate".
  state_key_prefix = "${var.project}/${var.environment}"

  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })
}

module "kms" {
  source = "./modules/kms"

  name_prefix             = local.name_prefix
  deletion_window_in_days = var.kms_deletion_window_in_days
  tags                    = local.tags
}

module "network" {
  source = "./modules/network"

  name_prefix                = local.name_prefix
  vpc_cidr                   = var.vpc_cidr
  az_count                   = var.az_count
  single_nat_gateway         = var.single_nat_gateway
  enable_interface_endpoints = var.enable_interface_endpoints
  flow_log_retention_days    = var.log_retention_days
  kms_key_arn                = module.kms.key_arn
  tags                       = local.tags
}

module "s3" {
  source = "./modules/s3"

  name_prefix                        = local.name_prefix
  account_id                         = data.aws_caller_identity.current.account_id
  kms_key_arn                        = module.kms.key_arn
  force_destroy                      = var.force_destroy_buckets
  dlt_staging_expiration_days        = var.dlt_staging_expiration_days
  raw_infrequent_access_days         = 30
  raw_glacier_days                   = 90
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  access_log_retention_days          = var.log_retention_days
  tags                               = local.tags
}

# The dbt docs site: a private bucket behind CloudFront (origin access control); CD fills it
# (scripts/deploy.py docs-site) after the warehouse build. Its address: output docs_site_url.
module "docs_site" {
  source = "./modules/docs_site"

  name_prefix                        = local.name_prefix
  account_id                         = data.aws_caller_identity.current.account_id
  access_logs_bucket_name            = module.s3.access_logs_bucket_name
  force_destroy                      = var.force_destroy_buckets
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  price_class                        = "PriceClass_100"
  tags                               = local.tags
}

module "secrets" {
  source = "./modules/secrets"

  secret_prefix           = local.secret_prefix
  kms_key_arn             = module.kms.key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days
  tags                    = local.tags
}

module "iam" {
  source = "./modules/iam"

  name_prefix                = local.name_prefix
  secret_prefix              = local.secret_prefix
  mwaa_environment_name      = local.name_prefix
  mwaa_bucket_arn            = module.s3.mwaa_bucket_arn
  raw_bucket_arn             = module.s3.raw_bucket_arn
  processed_bucket_arn       = module.s3.processed_bucket_arn
  dvc_bucket_arn             = module.s3.dvc_bucket_arn
  kms_key_arn                = module.kms.key_arn
  redshift_workgroup_arn     = module.redshift.workgroup_arn
  github_repository          = var.github_repository
  github_environment         = var.github_environment
  terraform_state_bucket     = var.terraform_state_bucket
  terraform_state_key_prefix = local.state_key_prefix
  terraform_lock_table       = var.terraform_lock_table
  tags                       = local.tags
}

module "redshift" {
  source = "./modules/redshift"

  name_prefix                   = local.name_prefix
  vpc_id                        = module.network.vpc_id
  subnet_ids                    = module.network.private_subnet_ids
  allowed_security_group_ids    = [module.mwaa.security_group_id]
  allowed_cidr_blocks           = var.redshift_allowed_cidr_blocks
  s3_prefix_list_id             = module.network.s3_prefix_list_id
  database_name                 = var.redshift_database_name
  admin_username                = var.redshift_admin_username
  port                          = 5439
  kms_key_arn                   = module.kms.key_arn
  iam_role_arns                 = [module.iam.redshift_copy_role_arn]
  default_iam_role_arn          = module.iam.redshift_copy_role_arn
  base_capacity                 = var.redshift_base_capacity
  max_capacity                  = var.redshift_max_capacity
  usage_limit_rpu_hours_per_day = var.redshift_usage_limit_rpu_hours_per_day
  usage_limit_breach_action     = var.redshift_usage_limit_breach_action
  tags                          = local.tags
}

module "mwaa" {
  source = "./modules/mwaa"

  environment_name                = local.name_prefix
  environment_class               = var.mwaa_environment_class
  min_workers                     = var.mwaa_min_workers
  max_workers                     = var.mwaa_max_workers
  schedulers                      = var.mwaa_schedulers
  execution_role_arn              = module.iam.mwaa_execution_role_arn
  source_bucket_arn               = module.s3.mwaa_bucket_arn
  source_bucket_name              = module.s3.mwaa_bucket_name
  dag_s3_path                     = "dags"
  requirements_file               = var.mwaa_requirements_file == null ? null : "${path.root}/${var.mwaa_requirements_file}"
  plugins_file                    = var.mwaa_plugins_file == null ? null : "${path.root}/${var.mwaa_plugins_file}"
  app_env                         = var.environment
  connections_prefix              = module.secrets.airflow_connections_prefix
  variables_prefix                = module.secrets.airflow_variables_prefix
  airflow_configuration_options   = var.mwaa_airflow_configuration_options
  kms_key_arn                     = module.kms.key_arn
  vpc_id                          = module.network.vpc_id
  subnet_ids                      = module.network.private_subnet_ids
  webserver_access_mode           = var.mwaa_webserver_access_mode
  log_level                       = "INFO"
  weekly_maintenance_window_start = "SUN:03:00"
  tags                            = local.tags
}
