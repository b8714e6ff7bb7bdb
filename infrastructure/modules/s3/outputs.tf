output "bucket_names" {
  description = "Bucket name per purpose: raw, processed, dvc, mwaa, access_logs."
  value       = merge({ for k, b in aws_s3_bucket.data : k => b.id }, { access_logs = aws_s3_bucket.access_logs.id })
}

output "bucket_arns" {
  description = "Bucket ARN per purpose: raw, processed, dvc, mwaa, access_logs."
  value       = merge({ for k, b in aws_s3_bucket.data : k => b.arn }, { access_logs = aws_s3_bucket.access_logs.arn })
}

output "raw_bucket_name" {
  description = "Raw bucket (dlt parquet staging for Redshift COPY)."
  value       = aws_s3_bucket.data["raw"].id
}

output "raw_bucket_arn" {
  description = "ARN of the raw bucket."
  value       = aws_s3_bucket.data["raw"].arn
}

output "processed_bucket_name" {
  description = "Processed bucket (exports of the mart)."
  value       = aws_s3_bucket.data["processed"].id
}

output "processed_bucket_arn" {
  description = "ARN of the processed bucket."
  value       = aws_s3_bucket.data["processed"].arn
}

output "dvc_bucket_name" {
  description = "DVC remote bucket."
  value       = aws_s3_bucket.data["dvc"].id
}

output "dvc_bucket_arn" {
  description = "ARN of the DVC remote bucket."
  value       = aws_s3_bucket.data["dvc"].arn
}

output "mwaa_bucket_name" {
  description = "MWAA source bucket (dags/, requirements.txt, startup script)."
  value       = aws_s3_bucket.data["mwaa"].id
}

output "mwaa_bucket_arn" {
  description = "ARN of the MWAA source bucket."
  value       = aws_s3_bucket.data["mwaa"].arn
}

output "access_logs_bucket_name" {
  description = "Bucket receiving the S3 server access logs."
  value       = aws_s3_bucket.access_logs.id
}
