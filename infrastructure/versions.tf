terraform {
  # 1.6 is the oldest release with the S3 backend options used in environments/*.backend.hcl.
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Pinned to the 5.x line; the exact build (5.100.0) is locked in .terraform.lock.hcl.
      version = "~> 5.100"
    }
  }

  # Partial configuration: bucket, key, region and lock table come from
  # environments/<env>.backend.hcl (`terraform init -backend-config=environments/<env>.backend.hcl`).
  backend "s3" {}
}
