#!/usr/bin/env bash
# Measure how long N trivial batch jobs take from first submit until all have finished.
#   bench-jobs.sh [N] [ACCOUNT]      (default 20 jobs as heroes-svc; run as root)
# Prints e.g. "20 jobs: all finished in 3.1 s (6.4 jobs/s)".
set -euo pipefail
n=${1:-20}
acct=${2:-heroes-svc}
dir=$(runuser -u "$acct" -- mktemp -d /tmp/testbed-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
start=$(date +%s.%N)
# shellcheck disable=SC2016  # $1 expands in the inner shell
ids=$(cd "$dir" && runuser -u "$acct" -- bash -c '
    for ((i = 0; i < $1; i++)); do sbatch --parsable -p debug -t 1 -J bench -o /dev/null --wrap true; done' _ "$n" |
    cut -d';' -f1 | paste -sd, -)
submitted=$(date +%s.%N)
while :; do
    raw=$(squeue -h -t all -j "$ids" -o '%T')
    states=$(sort <<<"$raw" | uniq -c | tr -s ' ' | paste -sd, -)
    if ! grep -q -v -E '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$' <<<"$raw"; then
        break
    fi
    sleep 0.05
done
end=$(date +%s.%N)
awk -v n="$n" -v s="$start" -v m="$submitted" -v e="$end" -v st="$states" 'BEGIN {
    printf "%d jobs: submitted in %.2f s, all finished in %.2f s (%.1f jobs/s) [%s]\n", n, m - s, e - s, n / (e - s), st }'
