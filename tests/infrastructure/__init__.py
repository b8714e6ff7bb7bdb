"""Offline checks of infrastructure/ (Terraform) and .github/workflows/."""
