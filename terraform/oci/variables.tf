# This provider's variables; those both modules share are in cluster_variables.tf.

variable "tenancy_ocid" {
  type = string
}

variable "user_ocid" {
  type = string
}

variable "fingerprint" {
  type = string
}

variable "private_key_path" {
  type        = string
  description = "Path of the API signing key (PEM) HEROES writes, mode 0600, next to the module; the key itself is never a variable."
}

variable "compartment_ocid" {
  type = string
}

variable "image_id" {
  type        = string
  description = "OCID of an Oracle Linux 9 / Ubuntu image with cloud-init."
}

variable "headnode_shape" {
  type    = string
  default = "VM.Standard.E4.Flex"
}

variable "headnode_ocpus" {
  type    = number
  default = 2
}

variable "compute_shape" {
  type    = string
  default = "VM.Standard.E4.Flex"
}

variable "compute_ocpus" {
  type    = number
  default = 8
}

variable "vcn_cidr" {
  type    = string
  default = "10.42.0.0/16"
}
