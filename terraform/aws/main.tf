# An organisation's persistent private cloud cluster on AWS: network, shared
# filesystem (EFS), a Slurm headnode (cloud-init) and a compute node launch template.
terraform {
  required_version = ">= 1.0"
  backend "s3" {} # bucket/key/endpoint come from HEROES: -backend-config=backend.hcl
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 4.0"
    }
  }
}

provider "aws" {
  region     = var.region
  access_key = var.access_key
  secret_key = var.secret_key
  token      = var.token == "" ? null : var.token
  default_tags {
    tags = {
      "heroes:organisation" = var.organisation
      "heroes:cluster"      = local.cluster
    }
  }
}

locals {
  cluster = var.cluster_name == "" ? var.organisation : var.cluster_name
  cloud_init_vars = {
    cluster            = local.cluster
    service_account    = var.service_account
    service_public_key = var.service_account_public_key
    shared_fs          = "${aws_efs_file_system.shared.dns_name}:/"
    partitions         = var.partitions
    compute_count      = var.max_compute_nodes
    runtime            = var.container_runtime
  }
  headnode_init = templatefile("${path.module}/../shared/cloud-init.yaml.tpl", merge(local.cloud_init_vars, { role = "headnode" }))
  compute_init  = templatefile("${path.module}/../shared/cloud-init.yaml.tpl", merge(local.cloud_init_vars, { role = "compute" }))
  headnode      = { address = aws_instance.headnode.public_ip, id = aws_instance.headnode.id } # for ../shared/cluster_outputs.tf
}

data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "cluster" {
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  tags                 = { Name = "heroes-${local.cluster}" }
}

resource "aws_subnet" "cluster" {
  vpc_id                  = aws_vpc.cluster.id
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, 1)
  availability_zone       = data.aws_availability_zones.available.names[0]
  map_public_ip_on_launch = true
}

resource "aws_internet_gateway" "cluster" {
  vpc_id = aws_vpc.cluster.id
}

resource "aws_route_table" "cluster" {
  vpc_id = aws_vpc.cluster.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.cluster.id
  }
}

resource "aws_route_table_association" "cluster" {
  subnet_id      = aws_subnet.cluster.id
  route_table_id = aws_route_table.cluster.id
}

resource "aws_security_group" "cluster" {
  name   = "heroes-${local.cluster}"
  vpc_id = aws_vpc.cluster.id
  ingress {
    description = "SSH from HEROES only"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = var.heroes_cidrs
  }
  ingress {
    description = "Slurm, NFS and everything else inside the cluster"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_efs_file_system" "shared" {
  encrypted = true
  tags      = { Name = "heroes-${local.cluster}-shared" }
}

resource "aws_efs_mount_target" "shared" {
  file_system_id  = aws_efs_file_system.shared.id
  subnet_id       = aws_subnet.cluster.id
  security_groups = [aws_security_group.cluster.id]
}

resource "aws_instance" "headnode" {
  ami                    = var.image_id
  instance_type          = var.headnode_type
  subnet_id              = aws_subnet.cluster.id
  vpc_security_group_ids = [aws_security_group.cluster.id]
  user_data              = local.headnode_init
  tags                   = { Name = "heroes-${local.cluster}-headnode", "heroes:role" = "headnode" }
  depends_on             = [aws_efs_mount_target.shared]
  metadata_options { # IMDSv2 only, and its token cannot leave the node (no container hop)
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  lifecycle {
    ignore_changes = [user_data, ami] # a re-run never replaces a configured headnode
  }
}

resource "aws_launch_template" "compute" {
  name_prefix            = "heroes-${local.cluster}-compute-"
  image_id               = var.image_id
  instance_type          = var.compute_type
  vpc_security_group_ids = [aws_security_group.cluster.id]
  user_data              = base64encode(local.compute_init)
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  tag_specifications {
    resource_type = "instance"
    tags          = { "heroes:role" = "compute", "heroes:organisation" = var.organisation, "heroes:cluster" = local.cluster }
  }
}
