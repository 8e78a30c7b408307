# shellcheck shell=bash
# The workflow engine: a Prefect server from the venv on 127.0.0.1:$PREFECT_PORT, SQLite
# under $STATE/prefect (its own PREFECT_HOME, so the caller's Prefect profile is not used).

PREFECT_PORT=4200

prefect_api_url() { echo "http://127.0.0.1:$PREFECT_PORT/api"; }

prefect_healthy() { ours "$RUN/prefect.pid" && curl -sf -m 5 "$(prefect_api_url)/health" >/dev/null 2>&1; }

ensure_prefect() {
    prefect_healthy && return 0
    stop_pidfile prefect "$RUN/prefect.pid" prefect group >/dev/null
    install -d -m 0700 "$STATE/prefect"
    say "prefect: starting server on 127.0.0.1:$PREFECT_PORT"
    (cd "$STATE/prefect" && spawn "$RUN/prefect.pid" "$LOG/prefect.log" \
        env -u PREFECT_API_URL PREFECT_HOME="$STATE/prefect" PREFECT_SERVER_ANALYTICS_ENABLED=false \
        "$VENV/bin/prefect" server start --host 127.0.0.1 --port "$PREFECT_PORT")
    wait_healthy prefect "$LOG/prefect.log" prefect_healthy "$WAIT" "$RUN/prefect.pid"
    mark_changed
}

stop_prefect() { stop_pidfile prefect "$RUN/prefect.pid" prefect group; }
