# Variables both modules declare alike (linked into each as cluster_variables.tf).

variable "organisation" {
  type        = string
  description = "Organisation owning the cluster (the HEROES organisation name rule: lower case); tags every resource."
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.organisation))
    error_message = "The organisation must be 3-40 lower-case letters, digits and '-', starting and ending with a letter or digit."
  }
}

variable "cluster_name" {
  type        = string
  default     = ""
  description = "Cluster name; the organisation's name when empty."
  validation {
    condition     = var.cluster_name == "" || can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.cluster_name))
    error_message = "The cluster_name must be empty or 3-40 lower-case letters, digits and '-', starting and ending with a letter or digit."
  }
}

variable "region" {
  type = string
}

variable "max_compute_nodes" {
  type    = number
  default = 8
}

variable "heroes_cidrs" {
  type        = list(string)
  description = "Addresses of the HEROES central servers allowed to SSH to the headnode."
}

variable "partitions" {
  type        = list(string)
  default     = ["cloud"]
  description = "Slurm partitions of the cluster (written into slurm.conf by cloud-init)."
  validation {
    condition     = length(var.partitions) > 0 && length(distinct(var.partitions)) == length(var.partitions)
    error_message = "The partitions must be a non-empty list without duplicates."
  }
  validation {
    condition     = alltrue([for p in var.partitions : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", p))])
    error_message = "Each partition must be a Slurm partition name: letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters."
  }
}

variable "service_account" {
  type        = string
  default     = "heroes"
  description = "POSIX user HEROES logs in as (created by cloud-init)."
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.service_account))
    error_message = "The service_account must be a POSIX user name: 1-32 lower-case letters, digits, '_' and '-', starting with a letter or '_'."
  }
}

variable "service_account_public_key" {
  type        = string
  description = "OpenSSH public key HEROES logs in with, one line."
  validation {
    condition     = can(regex("^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [A-Za-z0-9@._-]+)?$", var.service_account_public_key))
    error_message = "The service_account_public_key must be one OpenSSH public key line, e.g. 'ssh-ed25519 AAAA...'."
  }
}

variable "container_runtime" {
  type    = string
  default = "apptainer"
}
