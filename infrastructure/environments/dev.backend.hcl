# Partial S3 backend configuration of "dev":
#   terraform init -reconfigure -backend-config=environments/dev.backend.hcl
# The bucket and the lock table are created by infrastructure/bootstrap (see README.md).
bucket         = "trending-now-tfstate-dev"
key            = "trending-now/dev/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "trending-now-tf-locks"
encrypt        = true
