# Exactly what an HPCCentre block needs.
output "headnode_address" {
  value = oci_core_instance.headnode.public_ip
}

output "host_key" {
  value = var.host_public_key
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

output "instance_configuration_id" {
  value = oci_core_instance_configuration.compute.id
}

output "cluster" {
  value = local.cluster
}
