# What an HPCCentre block needs. Nothing secret: the host key is generated on the node
# and HEROES reads its public half from the node's console (see ../shared/cloud-init.yaml.tpl).
output "headnode_address" {
  value = aws_instance.headnode.public_ip
}

output "headnode_id" {
  description = "Instance id of the headnode: HEROES reads the host key it printed on its console and pins it."
  value       = aws_instance.headnode.id
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

output "launch_template_id" {
  value = aws_launch_template.compute.id
}

output "cluster" {
  value = local.cluster
}
