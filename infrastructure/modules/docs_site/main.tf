# The dbt docs site (`dbt docs generate --static` from the warehouse's catalog; CD uploads it with
# `scripts/deploy.py docs-site`): a private bucket that only this environment's CloudFront distribution
# reads, through origin access control (SigV4-signed requests; no public bucket, no website endpoint).
# Every bucket setting of module s3 applies: versioning, default encryption, public access blocked,
# bucket-owner-enforced ownership, access logs, lifecycle rules and a TLS-only policy.

resource "aws_s3_bucket" "site" {
  #checkov:skip=CKV_AWS_144:The site is regenerated from the warehouse by every deploy (scripts/deploy.py docs-site); a replica in another region would hold nothing that a deploy cannot rebuild
  #checkov:skip=CKV2_AWS_62:No consumer of object events: CD uploads the site and invalidates CloudFront itself
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256), not KMS: CloudFront's origin access control reads the objects, and the environment's KMS key would have to trust the CloudFront service for a site that holds no data, only model documentation
  bucket        = "${var.name_prefix}-docs-${var.account_id}"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Purpose = "docs" })
}

resource "aws_s3_bucket_versioning" "site" {
  bucket = aws_s3_bucket.site.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "site" {
  bucket        = aws_s3_bucket.site.id
  target_bucket = var.access_logs_bucket_name
  target_prefix = "docs/"
}

resource "aws_s3_bucket_lifecycle_configuration" "site" {
  bucket = aws_s3_bucket.site.id

  rule {
    id     = "noncurrent-versions-and-incomplete-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# Only the distribution reads the bucket (origin access control), and only over TLS.
data "aws_iam_policy_document" "site" {
  statement {
    sid       = "CloudFrontReadsTheSite"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.site.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.site.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.site.arn, "${aws_s3_bucket.site.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "site" {
  bucket     = aws_s3_bucket.site.id
  policy     = data.aws_iam_policy_document.site.json
  depends_on = [aws_s3_bucket_public_access_block.site]
}

resource "aws_cloudfront_origin_access_control" "site" {
  name                              = "${var.name_prefix}-docs"
  description                       = "CloudFront signs its requests to the private docs bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "site" {
  name    = "${var.name_prefix}-docs"
  comment = "Security headers of the dbt docs site"

  security_headers_config {
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "same-origin"
      override        = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
  }
}

locals {
  origin_id = "docs-bucket"
  # AWS managed cache policy "Managed-CachingOptimized" (a fixed id in every account); CD invalidates
  # the distribution after each upload.
  caching_optimized_policy_id = "658327ea-f89d-4fab-a63d-7e88639e58f6"
}

resource "aws_cloudfront_distribution" "site" {
  #checkov:skip=CKV_AWS_68:No WAF: the site serves static, public-schema documentation (no data rows, no forms), and a web ACL for CloudFront must live in us-east-1, a second provider this stack does not configure
  #checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68), so no Log4j managed rule either; the origin is a private S3 bucket with no code behind it
  #checkov:skip=CKV_AWS_86:CloudFront standard logs need an ACL-enabled bucket; the environment's buckets enforce bucket-owner ownership (no ACLs), and the origin bucket's own server access logs record every read
  #checkov:skip=CKV_AWS_310:One origin: the site exists only in this bucket, a failover origin would be a copy of the same upload
  #checkov:skip=CKV_AWS_374:Analysts read the site from anywhere the team works; no country is excluded
  #checkov:skip=CKV2_AWS_42:The default *.cloudfront.net certificate: the site has no custom domain to hold a certificate for
  #checkov:skip=CKV_AWS_174:TLS policy is fixed by the default *.cloudfront.net certificate (no custom domain, see CKV2_AWS_42); viewers are redirected to HTTPS
  enabled             = true
  comment             = "${var.name_prefix} dbt docs site"
  default_root_object = "index.html"
  price_class         = var.price_class
  http_version        = "http2and3"
  tags                = var.tags

  origin {
    domain_name              = aws_s3_bucket.site.bucket_regional_domain_name
    origin_id                = local.origin_id
    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    viewer_protocol_policy     = "redirect-to-https"
    compress                   = true
    cache_policy_id            = local.caching_optimized_policy_id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.site.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}
