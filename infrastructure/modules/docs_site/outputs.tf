output "url" {
  description = "HTTPS address of the dbt docs site (the CloudFront distribution)"
  value       = "https://${aws_cloudfront_distribution.site.domain_name}"
}

output "bucket_name" {
  description = "Private bucket holding the site (scripts/deploy.py docs-site --bucket)"
  value       = aws_s3_bucket.site.id
}

output "bucket_arn" {
  description = "ARN of the site's bucket"
  value       = aws_s3_bucket.site.arn
}

output "distribution_id" {
  description = "CloudFront distribution serving the site (scripts/deploy.py docs-site --distribution-id)"
  value       = aws_cloudfront_distribution.site.id
}

output "distribution_arn" {
  description = "ARN of the CloudFront distribution"
  value       = aws_cloudfront_distribution.site.arn
}
