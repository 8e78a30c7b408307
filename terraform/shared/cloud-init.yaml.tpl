#cloud-config
# The headnode and the compute nodes of a HEROES private cloud cluster.
#
# Nothing secret is in here: user-data can be read from the instance metadata service by any
# process on the node, and it is kept in the Terraform state. Each node generates its own SSH
# host key on first boot (ssh_deletekeys drops any key baked into the image) and prints the
# PUBLIC key on its serial console, between HEROES markers, at every boot (a per-boot script)
# and in cloud-init's own key block; HEROES reads it from the console (EC2 GetConsoleOutput,
# OCI console history) and pins it. The private key never leaves the node.
#
# Every value is written by yamlencode and commands that take a value are argv lists, so no
# input can add YAML or shell; variables.tf and HEROES also refuse unsafe values.
${yamlencode({
  ssh_deletekeys            = true
  ssh_genkeytypes           = ["ed25519"]
  ssh                       = { emit_keys_to_console = true }
  ssh_fp_console_blacklist  = []
  ssh_key_console_blacklist = []
  users = [{
    name                = service_account
    shell               = "/bin/bash"
    ssh_authorized_keys = [service_public_key]
  }]
  packages = ["slurm-wlm", "munge", "nfs-common", runtime == "charliecloud" ? "charliecloud-runtime" : "apptainer"]
  mounts   = [[shared_fs, "/shared", "nfs4", "nfsvers=4.1,_netdev", "0", "0"]]
  write_files = [
    {
      path    = "/etc/heroes/cluster"
      content = "cluster=${cluster}\npartitions=${join(",", partitions)}\nmax_compute_nodes=${compute_count}\n"
    },
    {
      path        = "/usr/local/bin/heroes-healthcheck"
      permissions = "0755"
      content     = "#!/bin/sh\nset -e\nmountpoint -q /shared\nsinfo -h >/dev/null\n"
    },
    {
      path = "/etc/slurm/slurm.conf"
      content = join("\n", concat([
        "ClusterName=${cluster}",
        "SlurmctldHost=${cluster}-head",
        "SelectType=select/cons_tres",
        "ProctrackType=proctrack/linuxproc",
        "SuspendProgram=/bin/true",
        "ResumeProgram=/bin/true",
        "NodeName=${cluster}-c[1-${compute_count}] State=CLOUD",
        ], [for p in partitions : "PartitionName=${p} Nodes=${cluster}-c[1-${compute_count}] MaxTime=INFINITE State=UP"],
      [""]))
    },
    {
      path        = "/var/lib/cloud/scripts/per-boot/heroes-host-key"
      permissions = "0755"
      content     = <<-SCRIPT
        #!/bin/sh
        # Print this node's SSH host PUBLIC key on the serial console at every boot: HEROES pins it.
        {
          echo "-----BEGIN HEROES HOST KEY-----"
          cat /etc/ssh/ssh_host_ed25519_key.pub
          echo "-----END HEROES HOST KEY-----"
        } > /dev/console
        SCRIPT
    },
  ]
  runcmd = concat(
    [["mkdir", "-p", "/shared/heroes"], ["chown", service_account, "/shared/heroes"]],
    role == "headnode" ? [["hostnamectl", "set-hostname", "${cluster}-head"]] : [],
    [["systemctl", "enable", "--now", "munge"],
    ["systemctl", "enable", "--now", role == "headnode" ? "slurmctld" : "slurmd"]],
  )
})}
