# The environment's buckets:
#   raw        dlt's parquet staging files (s3://<raw>/dlt-staging, loaded into Redshift by COPY)
#   processed  exports of the published mart
#   dvc        the DVC remote (s3://<dvc>/trending-now)
#   mwaa       MWAA source bucket: dags/, requirements.txt, startup script (MWAA requires the
#              "airflow-" name prefix, versioning and blocked public access)
# and a server access log bucket that receives the access logs of the four.
# Every bucket: versioning, default encryption, public access blocked, bucket-owner-enforced
# ownership, lifecycle rules and a TLS-only bucket policy.
locals {
  data_buckets = {
    raw       = "${var.name_prefix}-raw-${var.account_id}"
    processed = "${var.name_prefix}-processed-${var.account_id}"
    dvc       = "${var.name_prefix}-dvc-${var.account_id}"
    mwaa      = "airflow-${var.name_prefix}-${var.account_id}"
  }

  # Lifecycle rules per data bucket: optional prefix expiration, storage class transitions.
  lifecycle = {
    raw = {
      expire_prefixes = { "dlt-staging/" = var.dlt_staging_expiration_days }
      transitions = [
        { days = var.raw_infrequent_access_days, storage_class = "STANDARD_IA" },
        { days = var.raw_glacier_days, storage_class = "GLACIER_IR" },
      ]
    }
    processed = {
      expire_prefixes = {}
      transitions     = [{ days = 60, storage_class = "STANDARD_IA" }]
    }
    dvc = {
      expire_prefixes = {}
      transitions     = [{ days = 90, storage_class = "STANDARD_IA" }]
    }
    mwaa = {
      expire_prefixes = {}
      transitions     = []
    }
  }
}

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_144:Single-region pipeline; every object is re-derivable (raw/processed are rebuilt by a run, DVC and MWAA content lives in git) and versioning protects against overwrites, so cross-region replication would double storage cost for no recovery gain
  #checkov:skip=CKV2_AWS_62:No consumer of object events: the pipeline is scheduled by Airflow, not triggered by uploads
  for_each      = local.data_buckets
  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Purpose = each.key })
}

resource "aws_s3_bucket_versioning" "data" {
  for_each = aws_s3_bucket.data
  bucket   = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = aws_s3_bucket.data
  bucket   = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  for_each                = aws_s3_bucket.data
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "data" {
  for_each = aws_s3_bucket.data
  bucket   = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each      = aws_s3_bucket.data
  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.key}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  for_each = aws_s3_bucket.data
  bucket   = each.value.id

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

  # One rule per transition (no nested dynamic block, which checkov cannot render). Where two
  # transitions apply to an object, S3 takes the one to the cheaper storage class.
  dynamic "rule" {
    for_each = local.lifecycle[each.key].transitions
    content {
      id     = "to-${lower(rule.value.storage_class)}"
      status = "Enabled"

      filter {}

      transition {
        days          = rule.value.days
        storage_class = rule.value.storage_class
      }
    }
  }

  dynamic "rule" {
    for_each = local.lifecycle[each.key].expire_prefixes
    content {
      id     = "expire-${trimsuffix(rule.key, "/")}"
      status = "Enabled"

      filter {
        prefix = rule.key
      }

      expiration {
        days = rule.value
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

data "aws_iam_policy_document" "data" {
  for_each = aws_s3_bucket.data

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

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

  statement {
    sid       = "DenyOutdatedTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "data" {
  for_each = aws_s3_bucket.data
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.data[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.data]
}

# ---- server access log bucket ---------------------------------------------------------------
resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access log target bucket; logging it into itself would loop
  #checkov:skip=CKV_AWS_144:Access logs are audit data of a single-region deployment; replication would double cost
  #checkov:skip=CKV_AWS_145:S3 server access log delivery only supports SSE-S3 (AES256) on the target bucket, not SSE-KMS
  #checkov:skip=CKV2_AWS_62:No consumer of object events for access logs
  bucket        = "${var.name_prefix}-access-logs-${var.account_id}"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Purpose = "access-logs" })
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]

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

  # With BucketOwnerEnforced ownership, log delivery is granted by policy instead of an ACL.
  statement {
    sid       = "S3ServerAccessLogsDelivery"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for b in aws_s3_bucket.data : b.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
