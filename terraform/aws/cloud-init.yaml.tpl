#cloud-config
# The headnode and the compute nodes of a HEROES private cloud cluster.
ssh_keys:
  ed25519_private: |
    ${indent(4, host_private_key)}
  ed25519_public: ${host_public_key}
users:
  - name: ${service_account}
    shell: /bin/bash
    ssh_authorized_keys:
      - ${service_public_key}
packages:
  - slurm-wlm
  - munge
  - nfs-common
  - ${runtime == "charliecloud" ? "charliecloud-runtime" : "apptainer"}
mounts:
  - ["${shared_fs}", "/shared", "nfs4", "nfsvers=4.1,_netdev", "0", "0"]
write_files:
  - path: /etc/heroes/cluster
    content: |
      cluster=${cluster}
      partitions=${join(",", partitions)}
      max_compute_nodes=${compute_count}
  - path: /usr/local/bin/heroes-healthcheck
    permissions: "0755"
    content: |
      #!/bin/sh
      set -e
      mountpoint -q /shared
      sinfo -h >/dev/null
  - path: /etc/slurm/slurm.conf
    content: |
      ClusterName=${cluster}
      SlurmctldHost=${cluster}-head
      SelectType=select/cons_tres
      ProctrackType=proctrack/linuxproc
      SuspendProgram=/bin/true
      ResumeProgram=/bin/true
      NodeName=${cluster}-c[1-${compute_count}] State=CLOUD
%{ for p in partitions ~}
      PartitionName=${p} Nodes=${cluster}-c[1-${compute_count}] MaxTime=INFINITE State=UP
%{ endfor ~}
runcmd:
  - mkdir -p /shared/heroes && chown ${service_account} /shared/heroes
  - hostnamectl set-hostname ${role == "headnode" ? "${cluster}-head" : "$(cat /etc/hostname)"}
  - systemctl enable --now munge
  - ${role == "headnode" ? "systemctl enable --now slurmctld" : "systemctl enable --now slurmd"}
