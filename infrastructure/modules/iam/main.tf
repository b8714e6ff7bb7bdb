# Three roles:
#   <prefix>-mwaa-execution  what the pipeline's Airflow tasks run as (least privilege)
#   <prefix>-redshift-copy   what Redshift assumes to COPY dlt's parquet staging files from the raw bucket
#   <prefix>-github-deploy   what GitHub Actions assumes through OIDC to deploy (no long-lived keys)
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  mwaa_environment_arn = "arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${var.mwaa_environment_name}"
  mwaa_log_groups      = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${var.mwaa_environment_name}-*"
  # The application secret is "<prefix>" (ARN suffix "-XXXXXX"); the others live under "<prefix>/".
  secret_arns = [
    "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${var.secret_prefix}-??????",
    "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${var.secret_prefix}/*",
  ]
  data_bucket_arns = [var.raw_bucket_arn, var.processed_bucket_arn, var.dvc_bucket_arn]
}

# ---- MWAA execution role ----------------------------------------------------------------------
data "aws_iam_policy_document" "mwaa_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "mwaa" {
  statement {
    sid       = "PublishAirflowMetrics"
    actions   = ["airflow:PublishMetrics"]
    resources = [local.mwaa_environment_arn]
  }

  statement {
    sid       = "NoBucketListing"
    effect    = "Deny"
    actions   = ["s3:ListAllMyBuckets"]
    resources = [var.mwaa_bucket_arn, "${var.mwaa_bucket_arn}/*"]
  }

  statement {
    sid = "ReadDagsBucket"
    actions = [
      "s3:GetObject*",
      "s3:GetBucket*",
      "s3:ListBucket",
    ]
    resources = [var.mwaa_bucket_arn, "${var.mwaa_bucket_arn}/*"]
  }

  statement {
    sid = "AirflowLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:CreateLogGroup",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:GetLogRecord",
      "logs:GetLogGroupFields",
      "logs:GetQueryResults",
    ]
    resources = [local.mwaa_log_groups, "${local.mwaa_log_groups}:*"]
  }

  statement {
    sid       = "DescribeLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
  }

  statement {
    sid       = "AirflowCloudWatchMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["AmazonMWAA"]
    }
  }

  # MWAA's Celery queue lives in an AWS-owned account, hence the "*" account.
  statement {
    sid = "CeleryQueue"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*"]
  }

  statement {
    sid = "UseEnvironmentKey"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:GenerateDataKey*",
      "kms:Encrypt",
    ]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values = [
        "sqs.${local.region}.amazonaws.com",
        "s3.${local.region}.amazonaws.com",
        "secretsmanager.${local.region}.amazonaws.com",
      ]
    }
  }

  # dlt staging files (raw), exports (processed), DVC pushes/pulls (dvc).
  statement {
    sid       = "ListDataBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = local.data_bucket_arns
  }

  statement {
    sid = "ReadWriteDataObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [for arn in local.data_bucket_arns : "${arn}/*"]
  }

  statement {
    sid       = "ReadProjectSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = local.secret_arns
  }

  statement {
    sid = "RedshiftDataApi"
    actions = [
      "redshift-data:ExecuteStatement",
      "redshift-data:BatchExecuteStatement",
      "redshift-serverless:GetCredentials",
    ]
    resources = [var.redshift_workgroup_arn]
  }

  # These Data API calls take a statement id, not a resource ARN: they are limited to the
  # statements this role itself started.
  statement {
    sid = "RedshiftDataApiOwnStatements"
    actions = [
      "redshift-data:DescribeStatement",
      "redshift-data:GetStatementResult",
      "redshift-data:CancelStatement",
      "redshift-data:ListStatements",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "redshift-data:statement-owner-iam-userid"
      values   = ["$${aws:userid}"]
    }
  }
}

resource "aws_iam_role" "mwaa" {
  name                 = "${var.name_prefix}-mwaa-execution"
  description          = "MWAA execution role of the Trending Now pipeline"
  assume_role_policy   = data.aws_iam_policy_document.mwaa_assume.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "mwaa" {
  name   = "pipeline"
  role   = aws_iam_role.mwaa.id
  policy = data.aws_iam_policy_document.mwaa.json
}

# ---- Redshift COPY role -----------------------------------------------------------------------
data "aws_iam_policy_document" "redshift_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "redshift" {
  statement {
    sid       = "ListRawBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.raw_bucket_arn]
  }

  statement {
    sid       = "ReadRawObjects"
    actions   = ["s3:GetObject"]
    resources = ["${var.raw_bucket_arn}/*"]
  }

  statement {
    sid       = "DecryptRawObjects"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "redshift" {
  name                 = "${var.name_prefix}-redshift-copy"
  description          = "Assumed by Redshift Serverless to COPY dlt's parquet staging files from the raw bucket"
  assume_role_policy   = data.aws_iam_policy_document.redshift_assume.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "redshift" {
  name   = "copy-from-raw"
  role   = aws_iam_role.redshift.id
  policy = data.aws_iam_policy_document.redshift.json
}

# ---- GitHub Actions deploy role (OIDC) --------------------------------------------------------
# The account's GitHub OIDC provider is created once per account by infrastructure/bootstrap.
data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

data "aws_iam_policy_document" "deploy_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [data.aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Only jobs of this repository that run in the given GitHub environment (for production, the
    # environment with the required manual approval).
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.github_environment}"]
    }
  }
}

data "aws_iam_policy_document" "deploy" {
  #checkov:skip=CKV_AWS_109:Terraform deployer: it must manage the IAM roles and key policy of this environment; IAM writes are limited to the "<prefix>-*" roles and policies
  #checkov:skip=CKV_AWS_111:Terraform deployer: VPC, KMS key and Redshift Serverless resources have no ARN before they are created; writes on "*" are limited to the environment's region
  #checkov:skip=CKV_AWS_356:Terraform deployer: creation calls (ec2:Create*, kms:CreateKey) cannot be scoped to ARNs that do not exist yet; limited to the environment's region
  statement {
    sid       = "TerraformStateBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketVersioning"]
    resources = ["arn:${local.partition}:s3:::${var.terraform_state_bucket}"]
  }

  statement {
    sid       = "TerraformStateObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:${local.partition}:s3:::${var.terraform_state_bucket}/${var.terraform_state_key_prefix}/*"]
  }

  statement {
    sid       = "TerraformStateLock"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable"]
    resources = ["arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.terraform_lock_table}"]
  }

  # Buckets of this environment: Terraform manages them, CD syncs the DAGs into the MWAA bucket.
  statement {
    sid     = "ProjectBuckets"
    actions = ["s3:*"]
    resources = [
      "arn:${local.partition}:s3:::${var.name_prefix}-*",
      "arn:${local.partition}:s3:::airflow-${var.name_prefix}-*",
    ]
  }

  # The docs site's CloudFront distribution (module docs_site): Terraform manages it, CD invalidates it.
  statement {
    sid     = "DocsSiteCloudFront"
    actions = ["cloudfront:*"]
    resources = [
      "arn:${local.partition}:cloudfront::${local.account_id}:distribution/*",
      "arn:${local.partition}:cloudfront::${local.account_id}:origin-access-control/*",
      "arn:${local.partition}:cloudfront::${local.account_id}:response-headers-policy/*",
    ]
  }

  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:*"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "EnvironmentKeyAlias"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:alias/${var.name_prefix}"]
  }

  statement {
    sid = "NetworkAndKeyCreation"
    actions = [
      "ec2:*Vpc*",
      "ec2:*Subnet*",
      "ec2:*Route*",
      "ec2:*Gateway*",
      "ec2:*Address*",
      "ec2:*SecurityGroup*",
      "ec2:*FlowLogs*",
      "ec2:*Tags",
      "ec2:*NetworkInterface*",
      "ec2:Describe*",
      "ec2:AllocateAddress",
      "ec2:ReleaseAddress",
      "kms:CreateKey",
      "kms:ListAliases",
      "kms:ListKeys",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  statement {
    sid     = "EnvironmentRoles"
    actions = ["iam:*"]
    resources = [
      "arn:${local.partition}:iam::${local.account_id}:role/${var.name_prefix}-*",
      "arn:${local.partition}:iam::${local.account_id}:policy/${var.name_prefix}-*",
    ]
  }

  statement {
    sid       = "ReadGitHubOidcProvider"
    actions   = ["iam:GetOpenIDConnectProvider"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"]
  }

  # List* calls take no resource ARN.
  statement {
    sid       = "ListOidcProviders"
    actions   = ["iam:ListOpenIDConnectProviders"]
    resources = ["*"]
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["airflow.amazonaws.com", "redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
    }
  }

  statement {
    sid       = "EnvironmentSecrets"
    actions   = ["secretsmanager:*"]
    resources = local.secret_arns
  }

  # Redshift keeps the admin password it generates (manage_admin_password) in its own secret.
  statement {
    sid = "RedshiftManagedAdminSecret"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:DescribeSecret",
      "secretsmanager:RotateSecret",
      "secretsmanager:TagResource",
      "secretsmanager:UpdateSecret",
    ]
    resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:redshift!*"]
  }

  statement {
    sid       = "RandomPasswordForRedshift"
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"]
  }

  statement {
    sid       = "RedshiftServerless"
    actions   = ["redshift-serverless:*"]
    resources = ["arn:${local.partition}:redshift-serverless:${local.region}:${local.account_id}:*"]
  }

  statement {
    sid       = "Mwaa"
    actions   = ["airflow:*"]
    resources = [local.mwaa_environment_arn]
  }

  statement {
    sid     = "EnvironmentLogGroups"
    actions = ["logs:*"]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${var.mwaa_environment_name}-*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/vpc/flow-logs/${var.name_prefix}*",
    ]
  }

  statement {
    sid       = "DescribeLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name_prefix}-github-deploy"
  description          = "Assumed by GitHub Actions (OIDC, environment ${var.github_environment}) to deploy Trending Now"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_policy" "deploy" {
  name        = "${var.name_prefix}-github-deploy"
  description = "Terraform apply, DAG sync, dbt build and integration tests for ${var.name_prefix}"
  policy      = data.aws_iam_policy_document.deploy.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "deploy" {
  role       = aws_iam_role.deploy.name
  policy_arn = aws_iam_policy.deploy.arn
}
