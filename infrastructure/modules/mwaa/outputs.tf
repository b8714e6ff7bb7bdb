output "environment_name" {
  description = "Name of the MWAA environment."
  value       = aws_mwaa_environment.this.name
}

output "environment_arn" {
  description = "ARN of the MWAA environment."
  value       = aws_mwaa_environment.this.arn
}

output "webserver_url" {
  description = "URL of the Airflow UI (reachable from the VPC when PRIVATE_ONLY)."
  value       = aws_mwaa_environment.this.webserver_url
}

output "security_group_id" {
  description = "Security group of the environment (allowed to reach Redshift)."
  value       = aws_security_group.this.id
}

output "dag_s3_path" {
  description = "Folder of the DAGs in the source bucket."
  value       = aws_mwaa_environment.this.dag_s3_path
}

output "requirements_s3_object_version" {
  description = "S3 version of the requirements.txt the environment installs (null without requirements)."
  value       = var.requirements_file == null ? null : aws_s3_object.requirements[0].version_id
}
