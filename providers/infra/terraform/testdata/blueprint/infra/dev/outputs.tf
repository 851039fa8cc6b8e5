output "cluster_name" {
  value = terraform_data.cluster.output.name
}

output "node_count" {
  value = terraform_data.cluster.output.nodes
}

output "zones" {
  value = module.names.zone_names
}

output "cluster_id" {
  value = terraform_data.cluster.id
}

output "token" {
  value     = var.token
  sensitive = true
}
