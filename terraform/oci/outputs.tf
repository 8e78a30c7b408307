# This provider's outputs; those both modules share are in cluster_outputs.tf.
output "instance_configuration_id" {
  value = oci_core_instance_configuration.compute.id
}
