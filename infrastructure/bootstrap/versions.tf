terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Local state on purpose: this configuration creates the bucket that the environments'
  # S3 backend uses. Once applied, its state can be moved into that bucket (see README.md).
}
