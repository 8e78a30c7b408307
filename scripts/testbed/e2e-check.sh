#!/bin/bash
# End-to-end check, run AS A SERVICE ACCOUNT over ssh (scripts/testbed.sh pipes it to
# `ssh ... bash -s -- PARTITION`): the tools are on PATH, and a Slurm batch job unpacks
# the image tarball and runs ch-run in it with a job directory bound at /job.
# Prints "E2E-OK <jobid>" on success. rclone is not needed here: HEROES runs it on the
# orchestrator host, and it only asks the login node for SFTP and for checksums (md5sum,
# sha1sum; HEROES' own checksums run `xargs md5sum`).
set -euo pipefail
partition=${1:-debug}
for tool in sbatch squeue sacct scancel ch-run md5sum sha1sum xargs sha256sum tar; do
    command -v "$tool" >/dev/null || { echo "E2E: $tool not on PATH ($PATH)" >&2; exit 1; }
done
image="$HOME/images/busybox.tar.gz"
check="$HOME/.testbed-check"
rm -rf "$check"
mkdir -p "$check/job"
jobid=$(sbatch --parsable --wait --quiet -p "$partition" -t 2 -J testbed-e2e \
    -o "$check/slurm-%j.out" --chdir "$check" \
    --wrap "set -e; mkdir img; tar -xzf '$image' -C img; ch-run -b '$check/job:/job' img -- /bin/sh -c 'echo hi > /job/out'") || {
    echo "E2E: job failed; its output:" >&2; cat "$check"/slurm-*.out >&2 || true; exit 1; }
jobid=${jobid%%;*}
out=$(cat "$check/job/out" 2>/dev/null || true)
[[ "$out" == hi ]] || { echo "E2E: /job/out is '$out', expected 'hi'" >&2; cat "$check"/slurm-*.out >&2 || true; exit 1; }
# Accounting: the job must appear in sacct (slurmctld forwards it to slurmdbd asynchronously).
state=""
for _ in $(seq 1 40); do
    state=$(sacct -n -X -P -j "$jobid" -o State 2>/dev/null | head -n1 || true)
    [[ "$state" == COMPLETED ]] && break
    sleep 0.25
done
[[ "$state" == COMPLETED ]] || { echo "E2E: sacct shows job $jobid as '$state', expected COMPLETED" >&2; exit 1; }
rm -rf "$check"
echo "E2E-OK $jobid"
