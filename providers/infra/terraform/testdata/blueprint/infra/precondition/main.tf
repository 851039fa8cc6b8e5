variable "ok" {
  type = bool
}

resource "terraform_data" "first" {
  input = "first"
}

resource "terraform_data" "second" {
  input = terraform_data.first.id

  lifecycle {
    precondition {
      # With ok=false the condition depends on first's id, unknown until
      # first exists, so the check fails during apply, after first was made.
      condition     = var.ok ? true : terraform_data.first.id == "never"
      error_message = "second needs ok=true."
    }
  }
}

output "first_id" {
  value = terraform_data.first.id
}

output "second_id" {
  value = terraform_data.second.id
}
