# Outputs named after the application config keys they fill: the dotted key with "__" for each
# dot (warehouse.redshift.host -> warehouse__redshift__host). CD renders them into
# config/<env>.yaml with infrastructure/scripts/render_config.py; keep the names stable.

output "warehouse__redshift__host" {
  description = "Config key warehouse.redshift.host: endpoint of the Redshift Serverless workgroup."
  value       = module.redshift.endpoint_address
}

output "warehouse__redshift__port" {
  description = "Config key warehouse.redshift.port."
  value       = module.redshift.port
}

output "warehouse__redshift__database" {
  description = "Config key warehouse.redshift.database."
  value       = module.redshift.database_name
}

output "warehouse__redshift__iam_role_arn" {
  description = "Config key warehouse.redshift.iam_role_arn: role Redshift assumes to COPY dlt's staging files."
  value       = module.iam.redshift_copy_role_arn
}

output "warehouse__redshift__staging_bucket_url" {
  description = "Config key warehouse.redshift.staging_bucket_url: dlt's filesystem staging for Redshift."
  value       = "s3://${module.s3.raw_bucket_name}/dlt-staging"
}

output "dvc__s3_url" {
  description = "Config key dvc.s3_url: the DVC remote."
  value       = "s3://${module.s3.dvc_bucket_name}/${var.project}"
}

output "secrets__aws_secret_id" {
  description = "Config key secrets.aws_secret_id: the JSON secret holding GEMINI_API_KEY, TMDB_API_KEY, GUARDIAN_API_KEY and REDSHIFT_PASSWORD."
  value       = module.secrets.app_secret_name
}

output "aws__region" {
  description = "Config key aws.region."
  value       = var.aws_region
}

output "airflow__dags_bucket" {
  description = "Config key airflow.dags_bucket: MWAA source bucket (CD syncs dags/ and the packages into its dags/ folder)."
  value       = module.s3.mwaa_bucket_name
}

# ---- not config keys: used by CD and by people ----

output "mwaa_environment_name" {
  description = "Name of the MWAA environment."
  value       = module.mwaa.environment_name
}

output "mwaa_webserver_url" {
  description = "Airflow UI URL (private: reachable from the VPC)."
  value       = module.mwaa.webserver_url
}

output "mwaa_dag_s3_path" {
  description = "Folder of the DAGs in the MWAA bucket."
  value       = module.mwaa.dag_s3_path
}

output "redshift_workgroup_name" {
  description = "Redshift Serverless workgroup (for the Data API and the query editor)."
  value       = module.redshift.workgroup_name
}

output "redshift_admin_password_secret_arn" {
  description = "Secret in which Redshift keeps the admin password (used once to create the pipeline user)."
  value       = module.redshift.admin_password_secret_arn
}

output "redshift_connection_secret_name" {
  description = "Airflow connection secret (redshift_default) to fill by hand."
  value       = module.secrets.redshift_connection_secret_name
}

output "github_deploy_role_arn" {
  description = "Role for the CD workflow: set it as the repository variable AWS_DEPLOY_ROLE_ARN_<ENV>."
  value       = module.iam.github_deploy_role_arn
}

output "kms_key_arn" {
  description = "The environment's KMS key."
  value       = module.kms.key_arn
}

output "bucket_names" {
  description = "All buckets of the environment by purpose."
  value       = module.s3.bucket_names
}

# The dbt docs site (module docs_site): its address, and where CD uploads it (scripts/deploy.py docs-site).
output "docs_site_url" {
  description = "HTTPS address of the dbt docs site (CloudFront in front of the private docs bucket)"
  value       = module.docs_site.url
}

output "docs_site_bucket" {
  description = "Private bucket CD uploads the dbt docs site to (scripts/deploy.py docs-site --bucket)"
  value       = module.docs_site.bucket_name
}

output "docs_site_distribution_id" {
  description = "CloudFront distribution CD invalidates after an upload (scripts/deploy.py docs-site --distribution-id)"
  value       = module.docs_site.distribution_id
}
