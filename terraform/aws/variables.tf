# This provider's variables; those both modules share are in cluster_variables.tf.

variable "access_key" {
  type      = string
  sensitive = true
}

variable "secret_key" {
  type      = string
  sensitive = true
}

variable "token" {
  type      = string
  default   = ""
  sensitive = true
}

variable "image_id" {
  type        = string
  description = "AMI of a Debian 12 / Rocky 9 image with cloud-init."
}

variable "headnode_type" {
  type    = string
  default = "c5.xlarge"
}

variable "compute_type" {
  type    = string
  default = "c5.4xlarge"
}

variable "vpc_cidr" {
  type    = string
  default = "10.42.0.0/16"
}
