# This provider's outputs; those both modules share are in cluster_outputs.tf.
output "launch_template_id" {
  value = aws_launch_template.compute.id
}
