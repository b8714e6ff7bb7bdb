# Partial S3 backend configuration of "prod":
#   terraform init -reconfigure -backend-config=environments/prod.backend.hcl
# The bucket and the lock table are created by infrastructure/bootstrap (see README.md).
bucket         = "trending-now-tfstate-prod"
key            = "trending-now/prod/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "trending-now-tf-locks"
encrypt        = true
