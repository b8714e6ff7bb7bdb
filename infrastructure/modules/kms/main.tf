# One customer-managed key per environment. It encrypts the data buckets, the secrets, the
# Redshift Serverless namespace, the MWAA environment and the CloudWatch log groups.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

data "aws_iam_policy_document" "key" {
  # Standard key policy: the account administers the key, and IAM policies (scoped to this key's
  # ARN in modules/iam) grant its use. In a key policy "*" means "this key".
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" is the key itself; the account root statement is the AWS default that lets IAM policies delegate access
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" is the key itself; writes are limited to principals of this account
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" is the key itself, not every resource
  statement {
    sid       = "AccountAdministersKey"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the VPC flow log group and MWAA's log groups with this key.
  statement {
    sid    = "CloudWatchLogsUseKey"
    effect = "Allow"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix}: data buckets, secrets, Redshift, MWAA and logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}
