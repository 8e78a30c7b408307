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

variable "max_compute_nodes" {
  type    = number
  default = 8
}

variable "vpc_cidr" {
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
