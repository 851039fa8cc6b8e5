terraform {
  # Configured by -backend-config when Options.BackendConfig is set;
  # otherwise rekindle's override pins the state to its state dir.
  backend "local" {}
}

resource "terraform_data" "only" {
  input = "only"
}

output "id" {
  value = terraform_data.only.id
}
