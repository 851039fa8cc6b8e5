resource "terraform_data" "a" {
  input = "fine"
}

resource "terraform_data" "b" {
  input =
}
