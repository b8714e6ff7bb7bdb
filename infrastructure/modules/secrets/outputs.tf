output "app_secret_name" {
  description = "Name of the application secret (config key secrets.aws_secret_id)."
  value       = aws_secretsmanager_secret.app.name
}

output "app_secret_arn" {
  description = "ARN of the application secret."
  value       = aws_secretsmanager_secret.app.arn
}

output "app_secret_keys" {
  description = "JSON keys the application secret must hold."
  value       = local.app_secret_keys
}

output "redshift_connection_secret_name" {
  description = "Name of the Airflow connection secret for Redshift."
  value       = aws_secretsmanager_secret.redshift_connection.name
}

output "redshift_connection_secret_arn" {
  description = "ARN of the Airflow connection secret for Redshift."
  value       = aws_secretsmanager_secret.redshift_connection.arn
}

output "airflow_connections_prefix" {
  description = "Prefix under which Airflow's Secrets Manager backend looks up connections."
  value       = "${var.secret_prefix}/airflow/connections"
}

output "airflow_variables_prefix" {
  description = "Prefix under which Airflow's Secrets Manager backend looks up variables."
  value       = "${var.secret_prefix}/airflow/variables"
}
