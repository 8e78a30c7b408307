variable "organisation" {
  type        = string
  description = "Organisation owning the cluster (lower case); tags every resource."
}

variable "cluster_name" {
  type        = string
  default     = ""
  description = "Cluster name; the organisation's name when empty."
}

variable "region" {
  type = string
}

variable "tenancy_ocid" {
  type = string
}

variable "user_ocid" {
  type = string
}

variable "fingerprint" {
  type = string
}

variable "private_key" {
  type      = string
  sensitive = true
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

variable "max_compute_nodes" {
  type    = number
  default = 8
}

variable "vcn_cidr" {
  type    = string
  default = "10.42.0.0/16"
}

variable "heroes_cidrs" {
  type        = list(string)
  description = "Addresses of the HEROES central servers allowed to SSH to the headnode."
}

variable "partitions" {
  type    = list(string)
  default = ["cloud"]
}

variable "service_account" {
  type    = string
  default = "heroes"
}

variable "service_account_public_key" {
  type = string
}

variable "host_private_key" {
  type        = string
  sensitive   = true
  description = "SSH host key HEROES generated and pins, so the headnode is trusted from its first boot."
}

variable "host_public_key" {
  type = string
}

variable "container_runtime" {
  type    = string
  default = "apptainer"
}
