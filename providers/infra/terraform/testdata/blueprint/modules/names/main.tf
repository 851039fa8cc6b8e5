variable "prefix" {
  type = string
}

variable "zones" {
  type = list(string)
}

resource "terraform_data" "zones" {
  input = [for z in var.zones : "${var.prefix}-${z}"]
}

output "zone_names" {
  value = terraform_data.zones.output
}
