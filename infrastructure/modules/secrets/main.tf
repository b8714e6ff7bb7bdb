# Secrets are created EMPTY: no secret value is ever written in Terraform code or state.
# Fill them by hand after the first apply (see infrastructure/README.md, "Fill the secrets").
locals {
  app_secret_keys = ["GEMINI_API_KEY", "TMDB_API_KEY", "GUARDIAN_API_KEY", "REDSHIFT_PASSWORD"]
}

# The application secret, read by core.config (config key secrets.aws_secret_id):
# one JSON object with the keys above.
resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:Third-party API keys (Gemini, TMDB, Guardian) cannot be rotated by a Lambda; they are rotated by hand at the provider and re-entered with put-secret-value
  name                    = var.secret_prefix
  description             = "Trending Now application secrets (JSON keys: ${join(", ", local.app_secret_keys)}). Filled by hand."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

# The Redshift connection for Airflow's Secrets Manager backend (MWAA reads connections under
# <prefix>/airflow/connections/): JSON {"conn_type": "redshift", "host", "port", "schema", "login", "password"}.
resource "aws_secretsmanager_secret" "redshift_connection" {
  #checkov:skip=CKV2_AWS_57:Password of the pipeline's Redshift user, set by hand with ALTER USER; rotating it needs a rotation Lambda with network access to the private workgroup, not deployed in this project
  name                    = "${var.secret_prefix}/airflow/connections/redshift_default"
  description             = "Airflow connection redshift_default for the Trending Now pipeline user. Filled by hand."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}
