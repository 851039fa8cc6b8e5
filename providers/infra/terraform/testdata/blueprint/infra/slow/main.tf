variable "marker" {
  type = string
}

variable "sleep" {
  type = number
}

resource "terraform_data" "first" {
  input = "first"
}

resource "terraform_data" "second" {
  input = terraform_data.first.id

  # Creating second touches marker, then sleeps: the test cancels the run
  # once marker exists, i.e. after first was created.
  provisioner "local-exec" {
    command = "touch '${var.marker}' && exec sleep ${var.sleep}"
  }
}

output "first_id" {
  value = terraform_data.first.id
}

output "second_id" {
  value = terraform_data.second.id
}
