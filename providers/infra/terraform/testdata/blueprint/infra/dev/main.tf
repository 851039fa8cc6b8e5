variable "cluster_name" {
  type = string
}

variable "node_count" {
  type    = number
  default = 3
}

variable "zones" {
  type    = list(string)
  default = ["a"]
}

# Bumping generation replaces the cluster: it feeds triggers_replace.
variable "generation" {
  type    = number
  default = 1
}

variable "token" {
  type      = string
  default   = "s3cret"
  sensitive = true
}

module "names" {
  source = "../../modules/names"
  prefix = var.cluster_name
  zones  = var.zones
}

resource "terraform_data" "network" {
  input = { name = "${var.cluster_name}-net" }
}

resource "terraform_data" "cluster" {
  input = {
    name    = var.cluster_name
    nodes   = var.node_count
    network = terraform_data.network.output.name
  }
  triggers_replace = [var.generation]
}
