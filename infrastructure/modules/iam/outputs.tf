output "mwaa_execution_role_arn" {
  description = "ARN of the MWAA execution role."
  value       = aws_iam_role.mwaa.arn
}

output "redshift_copy_role_arn" {
  description = "ARN of the role Redshift assumes for COPY from the raw bucket (config key warehouse.redshift.iam_role_arn)."
  value       = aws_iam_role.redshift.arn
}

output "github_deploy_role_arn" {
  description = "ARN of the role GitHub Actions assumes through OIDC (repository variable for the CD workflow)."
  value       = aws_iam_role.deploy.arn
}
