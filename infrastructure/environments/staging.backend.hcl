# Partial S3 backend configuration of "staging":
#   terraform init -reconfigure -backend-config=environments/staging.backend.hcl
# The bucket and the lock table are created by infrastructure/bootstrap (see README.md).
bucket         = "trending-now-tfstate-staging"
key            = "trending-now/staging/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "trending-now-tf-locks"
encrypt        = true
