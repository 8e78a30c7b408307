# shellcheck shell=bash
# MariaDB: a private instance on 127.0.0.1:$DB_PORT, only for slurmdbd's accounting database.

DB_PORT=${HEROES_TESTBED_DB_PORT:-3307}

db_sock() { echo "$STATE/mariadb/mysqld.sock"; }
db_slurm_pass() { secret "$STATE/secrets/mariadb-slurm"; }

mariadb_healthy() {
    pid_alive "$STATE/mariadb/mariadbd.pid" mariadbd &&
        mariadb-admin --no-defaults --socket="$(db_sock)" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

ensure_mariadb() {
    mariadb_healthy && return 0
    local dir=$STATE/mariadb pass
    pass=$(db_slurm_pass)
    install -d -m 0750 -o mysql -g mysql "$dir"
    touch "$LOG/mariadb.log"
    chown mysql:mysql "$LOG/mariadb.log"
    if [[ ! -d "$dir/data/mysql" ]]; then
        say "mariadb: initialising $dir/data"
        rm -rf "$dir/data"
        mariadb-install-db --no-defaults --datadir="$dir/data" --user=mysql \
            --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
            </dev/null >>"$LOG/mariadb.log" 2>&1 ||
            fail mariadb "$LOG/mariadb.log" "mariadb-install-db failed"
    fi
    rm -f "$dir/mariadbd.pid" "$dir/mysqld.sock"
    say "mariadb: starting mariadbd on 127.0.0.1:$DB_PORT"
    spawn "$RUN/mariadbd.spawn.pid" "$LOG/mariadb.log" /usr/sbin/mariadbd --no-defaults \
        --user=mysql --datadir="$dir/data" --socket="$dir/mysqld.sock" \
        --pid-file="$dir/mariadbd.pid" --log-error="$LOG/mariadb.log" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
        --innodb-buffer-pool-size=512M --innodb-log-file-size=64M \
        --innodb-lock-wait-timeout=900 --max-connections=200
    wait_healthy mariadb "$LOG/mariadb.log" mariadb_healthy "$WAIT" "$RUN/mariadbd.spawn.pid"
    mariadb --no-defaults --socket="$(db_sock)" -uroot >>"$LOG/mariadb.log" 2>&1 <<SQL ||
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
        fail mariadb "$LOG/mariadb.log" "creating the slurm database user failed"
    mark_changed
}

stop_mariadb() {
    stop_pidfile mariadb "$STATE/mariadb/mariadbd.pid" mariadbd
    rm -f "$RUN/mariadbd.spawn.pid"
}
