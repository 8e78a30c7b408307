# shellcheck shell=bash
# The databases: a private PostgreSQL 15 cluster on 127.0.0.1:$PG_PORT (data in
# $STATE/postgres/data), role heroes owning the databases heroes (demo), heroes_test and prefect.

PG_PORT=${HEROES_TESTBED_PG_PORT:-5433}
PG_BIN=/usr/lib/postgresql/15/bin
PG_ROLE=heroes

# The databases role heroes owns: HEROES' own (demo and tests) and the Prefect server's, which runs
# on PostgreSQL as in production (docs/production.md).
PG_DATABASES=(heroes heroes_test prefect)
# pg_database_list: the names as an SQL list of literals ('heroes', ...).
pg_database_list() { printf "'%s', " "${PG_DATABASES[@]}" | sed 's/, $//'; }

pg_data() { echo "$STATE/postgres/data"; }
pg_sockdir() { echo "$STATE/postgres/run"; }
pg_pass() { secret "$STATE/secrets/postgres-heroes"; }
pg_url() { printf 'postgresql+psycopg://%s:%s@127.0.0.1:%s/%s' "$PG_ROLE" "$(pg_pass)" "$PG_PORT" "$1"; }

# pg_as CMD...: run a command as user postgres from / (its cwd must be readable by it).
pg_as() { (cd / && runuser -u postgres -- "$@"); }

# pg_postmaster: print the pid of this cluster's live postmaster (from postmaster.pid,
# checked against the process's cwd, which postgres sets to its data directory).
pg_postmaster() {
    local pid
    pid=$(head -n 1 "$(pg_data)/postmaster.pid" 2>/dev/null | tr -dc '0-9') || return 1
    [[ -n "$pid" ]] && running "$pid" && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$(pg_data)" ]] ||
        return 1
    echo "$pid"
}

# pg_procs: pids of all processes of this cluster (also orphans of a killed postmaster).
pg_procs() {
    local p
    while IFS= read -r p; do
        p=${p#/proc/}
        p=${p%/cwd}
        if running "$p"; then echo "$p"; fi
    done < <(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$(pg_data)" 2>/dev/null)
}

pg_ready() { timeout 10 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 3 </dev/null >/dev/null 2>&1; }

# pg_heroes SQL: run SQL as role heroes over TCP with its password (how the tests connect).
pg_heroes() {
    PGPASSWORD=$(pg_pass) PGCONNECT_TIMEOUT=5 timeout 10 "$PG_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d heroes_test -c "$1" </dev/null 2>/dev/null
}

postgres_healthy() {
    pg_ready || return 1
    # Also checks what `up` provisions: the role can create databases and the databases exist.
    [[ "$(pg_heroes "select rolcreatedb and (select count(*) = ${#PG_DATABASES[@]} from pg_database
        where datname in ($(pg_database_list))) from pg_roles where rolname = current_user")" == t ]]
}

# Role and databases, idempotently, as the superuser over the private socket (peer auth).
pg_provision() {
    local pass
    pass=$(pg_pass)
    pg_as "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_sockdir)" -p "$PG_PORT" -U postgres -d postgres \
        >>"$LOG/postgres.log" 2>&1 <<SQL || fail postgres "$LOG/postgres.log" "creating role/databases $PG_ROLE failed"
SELECT 'CREATE ROLE $PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') \gexec
ALTER ROLE $PG_ROLE WITH LOGIN CREATEDB NOSUPERUSER PASSWORD '$pass';
SELECT format('CREATE DATABASE %I OWNER $PG_ROLE ENCODING %L', d, 'UTF8')
  FROM unnest(ARRAY[$(pg_database_list)]) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec
SELECT format('ALTER DATABASE %I OWNER TO $PG_ROLE', d)
  FROM unnest(ARRAY[$(pg_database_list)]) AS d \gexec
SQL
}

# pg_clear_leftovers: the children of a killed postmaster exit once they notice; until then
# they keep its shared memory in use and postgres refuses to start, so wait, then KILL.
pg_clear_leftovers() {
    local p i
    for ((i = 0; i < 50; i++)); do
        [[ -z "$(pg_procs)" ]] && break
        sleep 0.2
    done
    for p in $(pg_procs); do
        warn "postgres: killing leftover process $p ($(tr -s '\0 ' ' ' <"/proc/$p/cmdline" 2>/dev/null))"
        kill -KILL "$p" 2>/dev/null || true
    done
    sleep 0.2
    [[ -z "$(pg_procs)" ]] || fail postgres "$LOG/postgres.log" "leftover processes $(pg_procs | tr '\n' ' ')in $(pg_data)"
    rm -f "$(pg_data)/postmaster.pid" "$(pg_sockdir)/.s.PGSQL.$PG_PORT" "$(pg_sockdir)/.s.PGSQL.$PG_PORT.lock"
}

pg_start() {
    local data
    data=$(pg_data)
    install -d -m 0755 -o postgres -g postgres "$STATE/postgres" "$(pg_sockdir)"
    touch "$LOG/postgres.log"
    chown postgres:postgres "$LOG/postgres.log"
    chmod 0640 "$LOG/postgres.log"
    if [[ ! -s "$data/PG_VERSION" ]]; then
        say "postgres: initialising $data"
        rm -rf "$data"
        pg_as "$PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 </dev/null >>"$LOG/postgres.log" 2>&1 ||
            fail postgres "$LOG/postgres.log" "initdb failed"
    fi
    pg_clear_leftovers
    say "postgres: starting on 127.0.0.1:$PG_PORT"
    # -w -t: pg_ctl waits (bounded) and fails at once if the postmaster exits.
    # pg_ctl's own messages and the server's (-l) both append to the same log on purpose,
    # and fail reads it only after pg_ctl exits.
    # shellcheck disable=SC2094
    pg_as "$PG_BIN/pg_ctl" -D "$data" -l "$LOG/postgres.log" -w -t "$WAIT" \
        -o "-p $PG_PORT -k '$(pg_sockdir)' -c listen_addresses=127.0.0.1 -c max_connections=200" \
        start </dev/null >>"$LOG/postgres.log" 2>&1 9>&- ||
        fail postgres "$LOG/postgres.log" "pg_ctl start failed or not ready within ${WAIT}s"
}

ensure_postgres() {
    postgres_healthy && return 0
    local pid port
    pid=$(pg_postmaster || true)
    if [[ -n "$pid" ]]; then
        port=$(sed -n 4p "$(pg_data)/postmaster.pid" 2>/dev/null | tr -dc '0-9')
        if [[ "$port" != "$PG_PORT" ]]; then
            say "postgres: running on port ${port:-?}, wanted $PG_PORT: restarting"
            stop_postgres
            pid=""
        fi
    fi
    [[ -n "$pid" ]] || pg_start
    wait_healthy postgres "$LOG/postgres.log" pg_ready
    pg_provision
    postgres_healthy || fail postgres "$LOG/postgres.log" "psql as $PG_ROLE@127.0.0.1:$PG_PORT/heroes_test failed"
    mark_changed
}

stop_postgres() {
    if [[ -z "$(pg_postmaster || true)" ]]; then
        say "postgres: not running"
        return 0
    fi
    if ! pg_as "$PG_BIN/pg_ctl" -D "$(pg_data)" -m fast -t 60 -w stop </dev/null >>"$LOG/postgres.log" 2>&1; then
        warn "postgres: pg_ctl stop -m fast failed, trying -m immediate (log: $LOG/postgres.log)"
        pg_as "$PG_BIN/pg_ctl" -D "$(pg_data)" -m immediate -t 30 -w stop </dev/null >>"$LOG/postgres.log" 2>&1 ||
            { warn "postgres: still running, sending KILL"; pg_procs | xargs -r kill -KILL 2>/dev/null || true; }
    fi
    say "postgres: stopped"
}
