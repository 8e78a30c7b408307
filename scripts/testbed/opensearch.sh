# shellcheck shell=bash
# The search cluster HEROES ships its ECS logs to: one real OpenSearch node (OS_VERSION),
# assembled from Maven Central artifacts, since no distribution archive is published there.
# opensearch/pom.xml copies the server jar and its runtime dependencies into <home>/lib and
# four modules' jars into <home>/modules/<name> (transport-netty4: HTTP and transport, without
# which the node does not start; mapper-extras; analysis-common; lang-painless); this script
# adds what a distribution's zips would hold (each module's plugin-descriptor.properties and
# plugin-security.policy, from opensearch/modules/), renders config/ (opensearch.yml,
# jvm.options, log4j2.properties) and runs `java -cp '<home>/lib/*'
# org.opensearch.bootstrap.OpenSearch` the way bin/opensearch does, as the unprivileged
# system user $OS_USER (OpenSearch refuses root), on 127.0.0.1:$OS_PORT, plain HTTP.
# Layout under $STATE/opensearch: m2/ (Maven's downloads), opensearch-<version>/ (lib, modules),
# config/, data/ (indices persist across restarts), logs/, tmp/; stdout goes to $LOG/opensearch.log.

OS_VERSION=2.19.6 # 2.19.x is the newest line that runs on Java 17 (3.x needs 21)
OS_PORT=${HEROES_TESTBED_OS_PORT:-9200}
OS_TRANSPORT_PORT=${HEROES_TESTBED_OS_TRANSPORT_PORT:-9300}
# A small heap: the whole test bed shares two cores and a few GB (the node's RSS is ~350 MB).
OS_HEAP=${HEROES_TESTBED_OS_HEAP:--Xms256m -Xmx512m}
OS_WAIT=${HEROES_TESTBED_OS_WAIT:-180}
OS_USER=heroes-opensearch
OS_MODULES=(transport-netty4 mapper-extras analysis-common lang-painless)

os_dir() { echo "$STATE/opensearch"; }
os_home() { echo "$STATE/opensearch/opensearch-$OS_VERSION"; }
# Matches the command line of any version started from $STATE (an old one is still stopped).
os_pattern() { echo "-Dopensearch.path.home=$STATE/opensearch/opensearch-"; }
os_url() { echo "http://127.0.0.1:$OS_PORT"; }

# os_java_home: the newest JDK of 11..21 under /usr/lib/jvm (17 from Debian here). OpenSearch 2.x
# installs a Java security manager, which JDK 24 and later no longer have.
os_java_home() {
    local d major best="" best_major=0
    for d in /usr/lib/jvm/*/; do
        d=$(readlink -f "$d")
        [[ -x "$d/bin/java" && -r "$d/release" ]] || continue
        major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
        if [[ -n "$major" ]] && ((major >= 11 && major <= 21 && major > best_major)); then
            best=$d
            best_major=$major
        fi
    done
    [[ -n "$best" ]] || return 1
    echo "$best"
}

# os_stamp: what the assembly is made of; a change of any of it assembles the node again.
os_stamp() {
    local m
    {
        echo "$OS_VERSION"
        cat "$TB/opensearch/pom.xml"
        for m in "${OS_MODULES[@]}"; do
            cat "$TB/opensearch/modules/$m/"*
        done
    } | sha256sum | cut -d' ' -f1
}

opensearch_healthy() {
    pid_alive "$RUN/opensearch.pid" "-Dopensearch.path.home=$(os_home) " || return 1
    # One node: an index with a replica is yellow, which is as good as it gets here.
    curl -sf -m 5 "$(os_url)/_cluster/health" 2>/dev/null | grep -Eq '"status":"(green|yellow)"'
}

need_os_user() {
    id -u "$OS_USER" >/dev/null 2>&1 && return 0
    useradd --system --no-create-home --home-dir "$(os_dir)" --shell /usr/sbin/nologin \
        --comment "OpenSearch node (HEROES test bed)" "$OS_USER"
}

# os_assemble: lib/ and modules/ through mvn (downloads cached in $STATE/opensearch/m2), then the
# modules' descriptors and policies; built aside and moved into place when complete, so an
# interrupted assembly is redone. Stops a node running from an older assembly first.
os_assemble() {
    local dir stamp work m
    dir=$(os_dir)
    stamp=$(os_stamp)
    [[ "$(cat "$(os_home)/.assembled" 2>/dev/null)" == "$stamp" ]] && return 0
    command -v mvn >/dev/null || die "opensearch: mvn (Debian package maven) is needed to assemble the node"
    say "opensearch: assembling $OS_VERSION from Maven Central artifacts (mvn, log $LOG/opensearch-fetch.log)"
    install -d -m 0755 "$dir"
    install -d -m 0700 "$dir/m2" "$dir/build"
    work=$dir/assemble
    rm -rf "$work"
    # The pom is copied so that mvn writes nothing into the source tree.
    cp "$TB/opensearch/pom.xml" "$dir/build/pom.xml"
    (cd "$dir/build" && mvn -B -q package -Dopensearch.version="$OS_VERSION" -Dos.home="$work" \
        -Dmaven.repo.local="$dir/m2" </dev/null >>"$LOG/opensearch-fetch.log" 2>&1) ||
        fail opensearch "$LOG/opensearch-fetch.log" "mvn could not assemble OpenSearch $OS_VERSION"
    [[ -s "$work/lib/opensearch-$OS_VERSION.jar" ]] ||
        fail opensearch "$LOG/opensearch-fetch.log" "mvn left no $work/lib/opensearch-$OS_VERSION.jar"
    for m in "${OS_MODULES[@]}"; do
        ls "$work/modules/$m/"*.jar >/dev/null 2>&1 ||
            fail opensearch "$LOG/opensearch-fetch.log" "mvn left no jar in $work/modules/$m"
        sed "s/@VERSION@/$OS_VERSION/g" "$TB/opensearch/modules/$m/plugin-descriptor.properties.in" \
            >"$work/modules/$m/plugin-descriptor.properties"
        if [[ -f "$TB/opensearch/modules/$m/plugin-security.policy" ]]; then
            cp "$TB/opensearch/modules/$m/plugin-security.policy" "$work/modules/$m/"
        fi
    done
    # The node's security setup wants these under its home even when empty.
    mkdir -p "$work/bin" "$work/plugins"
    chmod -R u=rwX,go=rX "$work"
    echo "$stamp" >"$work/.assembled"
    stop_opensearch >/dev/null
    rm -rf "$(os_home)"
    mv "$work" "$(os_home)"
    mark_changed
}

# os_render_config: config/ from the templates; returns 0 if any file changed.
os_render_config() {
    local dir rc=1
    dir=$(os_dir)
    # The node writes its keystore into config/, and its data, logs and temporary files.
    install -d -m 0750 -o "$OS_USER" -g "$OS_USER" "$dir/config" "$dir/data" "$dir/logs" "$dir/tmp"
    render "$TB/opensearch/opensearch.yml.in" "$dir/config/opensearch.yml" 0644 \
        DATA="$dir/data" LOGS="$dir/logs" HTTP_PORT="$OS_PORT" TRANSPORT_PORT="$OS_TRANSPORT_PORT" && rc=0
    render "$TB/opensearch/jvm.options.in" "$dir/config/jvm.options" 0644 \
        HEAP="${OS_HEAP// /$'\n'}" TMP="$dir/tmp" LOGS="$dir/logs" && rc=0
    render "$TB/opensearch/log4j2.properties" "$dir/config/log4j2.properties" 0644 && rc=0
    chmod 0750 "$dir/config" # render makes a directory it writes into 0755
    return "$rc"
}

# os_port_free PORT: nothing listens on 127.0.0.1:PORT (or on all addresses).
os_port_free() { [[ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

ensure_opensearch() {
    local reconfigured=0 java opts=() line
    need_os_user
    java=$(os_java_home) ||
        die "opensearch: OpenSearch $OS_VERSION needs a JDK of 11 to 21 under /usr/lib/jvm (Debian: openjdk-17-jre-headless)"
    os_assemble
    os_render_config && reconfigured=1
    if ((reconfigured == 0)) && opensearch_healthy; then
        return 0
    fi
    stop_pidfile opensearch "$RUN/opensearch.pid" "$(os_pattern)" group >/dev/null
    os_port_free "$OS_PORT" ||
        die "opensearch: port $OS_PORT is taken by another program; set HEROES_TESTBED_OS_PORT"
    os_port_free "$OS_TRANSPORT_PORT" ||
        die "opensearch: port $OS_TRANSPORT_PORT is taken by another program; set HEROES_TESTBED_OS_TRANSPORT_PORT"
    while IFS= read -r line; do
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] || opts+=("$line")
    done <"$(os_dir)/config/jvm.options"
    # The security manager stays: JDK 18+ only allows it with this property.
    if [[ "$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$java/release")" -ge 18 ]]; then
        opts+=(-Djava.security.manager=allow)
    fi
    say "opensearch: starting $OS_VERSION on 127.0.0.1:$OS_PORT (transport :$OS_TRANSPORT_PORT) as $OS_USER, $java"
    (cd "$(os_home)" && spawn "$RUN/opensearch.pid" "$LOG/opensearch.log" \
        setpriv --reuid="$OS_USER" --regid="$OS_USER" --init-groups \
        env -i PATH=/usr/bin:/bin HOME="$(os_dir)" LANG=C.UTF-8 \
        "$java/bin/java" "${opts[@]}" \
        -Dopensearch.path.home="$(os_home)" -Dopensearch.path.conf="$(os_dir)/config" \
        -Dopensearch.distribution.type=tar -Dopensearch.bundled_jdk=false \
        -cp "$(os_home)/lib/*" org.opensearch.bootstrap.OpenSearch)
    wait_healthy opensearch "$LOG/opensearch.log" opensearch_healthy "$OS_WAIT" "$RUN/opensearch.pid"
    mark_changed
}

# os_check: an index template, a bulk request and a search, the way the log shipper uses the
# node (part of `testbed.sh verify`); the scratch index is deleted afterwards.
os_check() {
    local url index=heroes-testbed-verify out
    url=$(os_url)
    curl -sf -m 20 -X PUT "$url/_index_template/heroes-testbed-verify" -H 'Content-Type: application/json' \
        -d '{"index_patterns":["heroes-testbed-verify*"],"template":{"settings":{"number_of_shards":1,"number_of_replicas":0},"mappings":{"properties":{"@timestamp":{"type":"date"},"log.level":{"type":"keyword"},"message":{"type":"text"}}}}}' |
        grep -q '"acknowledged":true' || { echo "PUT _index_template failed"; return 1; }
    printf '%s\n' \
        "{\"index\":{\"_index\":\"$index\",\"_id\":\"1\"}}" \
        '{"@timestamp":"2026-01-01T00:00:00Z","log.level":"info","message":"test bed check"}' \
        "{\"create\":{\"_index\":\"$index\",\"_id\":\"2\"}}" \
        '{"@timestamp":"2026-01-01T00:00:01Z","log.level":"error","message":"test bed check"}' |
        curl -sf -m 30 -X POST "$url/_bulk?refresh=true" -H 'Content-Type: application/x-ndjson' --data-binary @- |
        grep -q '"errors":false' || { echo "POST _bulk failed"; return 1; }
    out=$(curl -sf -m 20 "$url/$index/_search" -H 'Content-Type: application/json' \
        -d '{"query":{"term":{"log.level":"error"}},"size":10}') || { echo "_search failed"; return 1; }
    grep -q '"_id":"2"' <<<"$out" || { echo "_search did not find the bulk-indexed document: $out"; return 1; }
    curl -sf -m 20 -X DELETE "$url/$index" >/dev/null || { echo "DELETE $index failed"; return 1; }
    curl -sf -m 20 -X DELETE "$url/_index_template/heroes-testbed-verify" >/dev/null ||
        { echo "DELETE _index_template failed"; return 1; }
}

stop_opensearch() { stop_pidfile opensearch "$RUN/opensearch.pid" "$(os_pattern)" group; }
