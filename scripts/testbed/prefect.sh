# shellcheck shell=bash
# The workflow engine: a Prefect server from the venv on 127.0.0.1:$PREFECT_PORT, its database the
# test bed's PostgreSQL (database prefect, as in production: docs/production.md), its own
# PREFECT_HOME under $STATE/prefect (so the caller's Prefect profile is not used).

PREFECT_PORT=4200

prefect_api_url() { echo "http://127.0.0.1:$PREFECT_PORT/api"; }

# prefect_db_url: the server's database, through the asyncpg driver Prefect's server needs.
prefect_db_url() { pg_url prefect | sed 's|^postgresql+psycopg:|postgresql+asyncpg:|'; }

# prefect_on_postgres: the running server was started on PostgreSQL (a server of an older test bed,
# on SQLite, is restarted).
prefect_on_postgres() {
    local pid
    pid=$(tr -dc '0-9' <"$RUN/prefect.pid")
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -q '^PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg:'
}

prefect_healthy() {
    ours "$RUN/prefect.pid" && prefect_on_postgres && curl -sf -m 5 "$(prefect_api_url)/health" >/dev/null 2>&1
}

ensure_prefect() {
    prefect_healthy && return 0
    stop_pidfile prefect "$RUN/prefect.pid" prefect group >/dev/null
    install -d -m 0700 "$STATE/prefect"
    say "prefect: starting server on 127.0.0.1:$PREFECT_PORT"
    (cd "$STATE/prefect" && spawn "$RUN/prefect.pid" "$LOG/prefect.log" \
        env -u PREFECT_API_URL PREFECT_HOME="$STATE/prefect" PREFECT_SERVER_ANALYTICS_ENABLED=false \
        PREFECT_API_DATABASE_CONNECTION_URL="$(prefect_db_url)" \
        "$VENV/bin/prefect" server start --host 127.0.0.1 --port "$PREFECT_PORT")
    wait_healthy prefect "$LOG/prefect.log" prefect_healthy "$WAIT" "$RUN/prefect.pid"
    mark_changed
}

stop_prefect() { stop_pidfile prefect "$RUN/prefect.pid" prefect group; }
