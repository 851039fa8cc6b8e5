# Offline stand-in for real infrastructure: terraform_data needs no provider
# download, yet it has state, plans and outputs like a VPC or a DNS zone would.
variable "environment" {
  type = string
}

variable "apps_nodes" {
  type    = number
  default = 3
}

resource "terraform_data" "network" {
  input = {
    name = "${var.environment}-network"
    cidr = "10.42.0.0/16"
  }
}

resource "terraform_data" "apps_cluster" {
  input            = "${var.environment}-apps"
  triggers_replace = [terraform_data.network.output.name]
}

output "apps_cluster" {
  value = terraform_data.apps_cluster.output
}

output "network_cidr" {
  value = terraform_data.network.output.cidr
}
