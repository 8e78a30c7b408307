#!/usr/bin/env bash
# One command from a fresh machine to a finished HEROES job: install, bring the local test
# bed up, register the blocks and the demo user, serve the deployments and the gateway (left
# running, so the Prefect UI can be opened through the gateway afterwards), and run a sample
# job end to end as the demo user, launched through the gateway.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

scripts/bootstrap.sh
scripts/testbed.sh up
api_url=$(.venv/bin/python scripts/testbed/testbed_config.py get prefect.api_url)
export PREFECT_API_URL="$api_url"
.venv/bin/prefect block register -m heroes.blocks
.venv/bin/python scripts/testbed/register_blocks.py

# The deployments' runner and the gateway, each started once and left running.
mkdir -p build/demo
GATEWAY_URL=http://127.0.0.1:4300
if ! pgrep -f "heroes.deployments" >/dev/null; then
    setsid nohup .venv/bin/python -m heroes.deployments --replace >build/demo/runner.log 2>&1 </dev/null &
    echo "demo: serving the deployments (log build/demo/runner.log)"
fi
if ! curl -sf -m 5 "$GATEWAY_URL/openapi.json" >/dev/null; then
    setsid nohup .venv/bin/heroes gateway --port 4300 >build/demo/gateway.log 2>&1 </dev/null &
    echo "demo: starting the gateway on $GATEWAY_URL (log build/demo/gateway.log)"
fi
for _ in $(seq 60); do
    curl -sf -m 5 "$GATEWAY_URL/openapi.json" >/dev/null && break
    sleep 1
done
curl -sf -m 5 "$GATEWAY_URL/openapi.json" >/dev/null || { cat build/demo/gateway.log; exit 1; }
deployment_registered() {
    .venv/bin/python -c 'from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client: client.read_deployment_by_name("run-job/run-job")' >/dev/null 2>&1
}
for _ in $(seq 90); do
    deployment_registered && break
    sleep 1
done
HEROES_GATEWAY_URL=$GATEWAY_URL .venv/bin/python scripts/demo_job.py
echo "demo: the runner and the gateway keep running; stop them with: pkill -f heroes.deployments; pkill -f 'heroes gateway'"
