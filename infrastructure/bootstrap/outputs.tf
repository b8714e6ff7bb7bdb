output "state_bucket_name" {
  description = "Put it in environments/<env>.backend.hcl (`bucket`) and <env>.tfvars (`terraform_state_bucket`)."
  value       = aws_s3_bucket.state.id
}

output "lock_table_name" {
  description = "Put it in environments/<env>.backend.hcl (`dynamodb_table`) and <env>.tfvars (`terraform_lock_table`)."
  value       = aws_dynamodb_table.locks.name
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider created here (null when it already existed)."
  value       = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : null
}
