# What an HPCCentre block needs, alike in both modules (linked into each as cluster_outputs.tf);
# each module's main.tf sets local.headnode to its headnode's address and id. Nothing secret:
# the host key is generated on the node and HEROES reads its public half from the node's
# console (see cloud-init.yaml.tpl).
output "headnode_address" {
  value = local.headnode.address
}

output "headnode_id" {
  description = "Instance id of the headnode: HEROES reads the host key it printed on its console and pins it."
  value       = local.headnode.id
}

output "service_account" {
  value = var.service_account
}

output "partitions" {
  value = var.partitions
}

output "work_root" {
  value = "/shared/heroes"
}

output "container_runtime" {
  value = var.container_runtime
}

output "cluster" {
  value = local.cluster
}
