# An organisation's persistent private cloud cluster on OCI: VCN, subnet, File
# Storage, a Slurm headnode (cloud-init) and a compute node instance configuration.
terraform {
  required_version = ">= 1.0"
  backend "s3" {} # the HEROES archive (S3 API) holds the state: -backend-config=backend.hcl
  required_providers {
    oci = {
      source  = "oracle/oci"
      version = ">= 5.0"
    }
  }
}

provider "oci" {
  region           = var.region
  tenancy_ocid     = var.tenancy_ocid
  user_ocid        = var.user_ocid
  fingerprint      = var.fingerprint
  private_key_path = var.private_key_path
}

locals {
  cluster = var.cluster_name == "" ? var.organisation : var.cluster_name
  tags    = { "heroes-organisation" = var.organisation, "heroes-cluster" = local.cluster }
  cloud_init_vars = {
    cluster            = local.cluster
    service_account    = var.service_account
    service_public_key = var.service_account_public_key
    shared_fs          = "${oci_file_storage_mount_target.shared.ip_address}:/shared"
    partitions         = var.partitions
    compute_count      = var.max_compute_nodes
    runtime            = var.container_runtime
  }
  headnode_init = templatefile("${path.module}/../shared/cloud-init.yaml.tpl", merge(local.cloud_init_vars, { role = "headnode" }))
  compute_init  = templatefile("${path.module}/../shared/cloud-init.yaml.tpl", merge(local.cloud_init_vars, { role = "compute" }))
  headnode      = { address = oci_core_instance.headnode.public_ip, id = oci_core_instance.headnode.id } # for ../shared/cluster_outputs.tf
}

data "oci_identity_availability_domains" "ads" {
  compartment_id = var.tenancy_ocid
}

resource "oci_core_vcn" "cluster" {
  compartment_id = var.compartment_ocid
  cidr_blocks    = [var.vcn_cidr]
  display_name   = "heroes-${local.cluster}"
  freeform_tags  = local.tags
}

resource "oci_core_internet_gateway" "cluster" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.cluster.id
}

resource "oci_core_route_table" "cluster" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.cluster.id
  route_rules {
    destination       = "0.0.0.0/0"
    network_entity_id = oci_core_internet_gateway.cluster.id
  }
}

resource "oci_core_security_list" "cluster" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.cluster.id
  egress_security_rules {
    destination = "0.0.0.0/0"
    protocol    = "all"
  }
  ingress_security_rules {
    source   = var.vcn_cidr
    protocol = "all"
  }
  dynamic "ingress_security_rules" {
    for_each = var.heroes_cidrs
    content {
      source   = ingress_security_rules.value
      protocol = "6"
      tcp_options {
        min = 22
        max = 22
      }
    }
  }
}

resource "oci_core_subnet" "cluster" {
  compartment_id    = var.compartment_ocid
  vcn_id            = oci_core_vcn.cluster.id
  cidr_block        = cidrsubnet(var.vcn_cidr, 8, 1)
  route_table_id    = oci_core_route_table.cluster.id
  security_list_ids = [oci_core_security_list.cluster.id]
  freeform_tags     = local.tags
}

resource "oci_file_storage_file_system" "shared" {
  compartment_id      = var.compartment_ocid
  availability_domain = data.oci_identity_availability_domains.ads.availability_domains[0].name
  freeform_tags       = local.tags
}

resource "oci_file_storage_mount_target" "shared" {
  compartment_id      = var.compartment_ocid
  availability_domain = data.oci_identity_availability_domains.ads.availability_domains[0].name
  subnet_id           = oci_core_subnet.cluster.id
}

resource "oci_file_storage_export" "shared" {
  export_set_id  = oci_file_storage_mount_target.shared.export_set_id
  file_system_id = oci_file_storage_file_system.shared.id
  path           = "/shared"
}

resource "oci_core_instance" "headnode" {
  compartment_id      = var.compartment_ocid
  availability_domain = data.oci_identity_availability_domains.ads.availability_domains[0].name
  shape               = var.headnode_shape
  display_name        = "heroes-${local.cluster}-headnode"
  freeform_tags       = merge(local.tags, { "heroes-role" = "headnode" })
  shape_config {
    ocpus = var.headnode_ocpus
  }
  source_details {
    source_type = "image"
    source_id   = var.image_id
  }
  create_vnic_details {
    subnet_id        = oci_core_subnet.cluster.id
    assign_public_ip = true
  }
  metadata = {
    user_data = base64encode(local.headnode_init)
  }
  instance_options { # IMDS v2 only: the legacy v1 endpoints are off
    are_legacy_imds_endpoints_disabled = true
  }
  lifecycle {
    ignore_changes = [metadata, source_details] # a re-run never replaces a configured headnode
  }
}

resource "oci_core_instance_configuration" "compute" {
  compartment_id = var.compartment_ocid
  display_name   = "heroes-${local.cluster}-compute"
  freeform_tags  = local.tags
  instance_details {
    instance_type = "compute"
    launch_details {
      compartment_id = var.compartment_ocid
      shape          = var.compute_shape
      freeform_tags  = merge(local.tags, { "heroes-role" = "compute" })
      shape_config {
        ocpus = var.compute_ocpus
      }
      source_details {
        source_type = "image"
        image_id    = var.image_id
      }
      create_vnic_details {
        subnet_id = oci_core_subnet.cluster.id
      }
      metadata = {
        user_data = base64encode(local.compute_init)
      }
      instance_options {
        are_legacy_imds_endpoints_disabled = true
      }
    }
  }
}
