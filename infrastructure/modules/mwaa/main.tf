# Amazon MWAA (Airflow 3) in private subnets. Terraform uploads requirements.txt, plugins.zip (the
# wheels requirements.txt installs from, --no-index: workers start without the internet) and the
# startup script, so their S3 object versions are pinned in the environment and a change to any one
# updates the environment; CD syncs dags/ and the project packages into <bucket>/<dag_s3_path>/.
locals {
  # The Airflow version is the apache-airflow pin of the constraints MWAA enforces for it
  # (essential-constraints.txt, next to this file), the file requirements-mwaa.txt is compiled
  # against: moving MWAA to another Airflow means replacing that file and running `make lock-mwaa`.
  airflow_version = regex("(?m)^apache-airflow==([0-9]+[.][0-9]+[.][0-9]+)$", file("${path.module}/essential-constraints.txt"))[0]

  requirements_key   = "requirements.txt"
  plugins_key        = "plugins.zip"
  startup_script_key = "startup/startup.sh"

  airflow_configuration_options = merge({
    "core.load_examples"     = "False"
    "secrets.backend"        = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    "secrets.backend_kwargs" = jsonencode({ connections_prefix = var.connections_prefix, variables_prefix = var.variables_prefix })

    # How long the scheduler sleeps after a loop with nothing to do (Airflow's default 1 s): each task of a
    # run waits up to that long after the one before it ends, ~30 times along the day's chain. 0.1 s: the
    # scheduler has its own containers on MWAA. The local stack of `bench_dag.py --scheduler` measures with
    # the same value (docs/airflow.md, "Cost of the orchestration").
    "scheduler.scheduler_idle_sleep_time" = "0.1"
  }, var.airflow_configuration_options)
}

resource "aws_s3_object" "requirements" {
  count                  = var.requirements_file == null ? 0 : 1
  bucket                 = var.source_bucket_name
  key                    = local.requirements_key
  source                 = var.requirements_file
  source_hash            = filemd5(var.requirements_file)
  content_type           = "text/plain"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_s3_object" "plugins" {
  count                  = var.plugins_file == null ? 0 : 1
  bucket                 = var.source_bucket_name
  key                    = local.plugins_key
  source                 = var.plugins_file
  source_hash            = filemd5(var.plugins_file)
  content_type           = "application/zip"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

# MWAA runs this on every worker/scheduler start: it selects config/<APP_ENV>.yaml.
resource "aws_s3_object" "startup_script" {
  bucket                 = var.source_bucket_name
  key                    = local.startup_script_key
  content                = "#!/bin/sh\nexport APP_ENV=${var.app_env}\nexport DBT_SEND_ANONYMOUS_USAGE_STATS=False\nexport AIRFLOW__COSMOS__ENABLE_TELEMETRY=False\n"
  content_type           = "text/x-sh"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.environment_name}-mwaa"
  description = "MWAA environment ${var.environment_name}"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.environment_name}-mwaa" })
}

# MWAA requires its components to reach each other on all ports (self-referencing rule).
resource "aws_vpc_security_group_ingress_rule" "self" {
  security_group_id            = aws_security_group.this.id
  description                  = "MWAA components talk to each other"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.this.id
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.this.id
  description       = "Outbound through NAT: PyPI (requirements), JustWatch, review sites, Gemini; Redshift and AWS APIs inside the VPC"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_mwaa_environment" "this" {
  name                             = var.environment_name
  airflow_version                  = local.airflow_version
  environment_class                = var.environment_class
  min_workers                      = var.min_workers
  max_workers                      = var.max_workers
  schedulers                       = var.schedulers
  execution_role_arn               = var.execution_role_arn
  kms_key                          = var.kms_key_arn
  source_bucket_arn                = var.source_bucket_arn
  dag_s3_path                      = var.dag_s3_path
  requirements_s3_path             = var.requirements_file == null ? null : aws_s3_object.requirements[0].key
  requirements_s3_object_version   = var.requirements_file == null ? null : aws_s3_object.requirements[0].version_id
  plugins_s3_path                  = var.plugins_file == null ? null : aws_s3_object.plugins[0].key
  plugins_s3_object_version        = var.plugins_file == null ? null : aws_s3_object.plugins[0].version_id
  startup_script_s3_path           = aws_s3_object.startup_script.key
  startup_script_s3_object_version = aws_s3_object.startup_script.version_id
  webserver_access_mode            = var.webserver_access_mode
  weekly_maintenance_window_start  = var.weekly_maintenance_window_start
  airflow_configuration_options    = local.airflow_configuration_options
  tags                             = var.tags

  network_configuration {
    security_group_ids = [aws_security_group.this.id]
    subnet_ids         = slice(var.subnet_ids, 0, 2)
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = var.log_level
    }

    scheduler_logs {
      enabled   = true
      log_level = var.log_level
    }

    task_logs {
      enabled   = true
      log_level = "INFO"
    }

    webserver_logs {
      enabled   = true
      log_level = var.log_level
    }

    worker_logs {
      enabled   = true
      log_level = var.log_level
    }
  }
}
