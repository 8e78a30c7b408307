# shellcheck shell=bash
# The end-to-end check: the parts working together the way HEROES uses them.
# Each service account logs in over ssh and runs e2e-check.sh (sbatch --wait -> ch-run ->
# sacct); the archive and the database are then reached from the venv's Python clients,
# Keycloak's admin API and JWKS over HTTP, and the OpenSearch node takes an index template,
# a bulk request and a search.

verify_e2e() {
    local acct i pids=()
    say "verify: ${ACCOUNTS[*]} over ssh -> sbatch --wait -> ch-run -> sacct"
    for acct in "${ACCOUNTS[@]}"; do
        as_svc 120 "$acct" 'bash -s -- debug' <"$TB/e2e-check.sh" >"$RUN/e2e-$acct.out" 2>>"$LOG/e2e.log" &
        pids+=("$!")
    done
    for i in "${!ACCOUNTS[@]}"; do
        acct=${ACCOUNTS[$i]}
        wait "${pids[$i]}" || fail "end-to-end ($acct)" "$LOG/e2e.log" "ssh/sbatch/ch-run check failed"
        grep -q '^E2E-OK' "$RUN/e2e-$acct.out" ||
            fail "end-to-end ($acct)" "$LOG/e2e.log" "unexpected output: $(cat "$RUN/e2e-$acct.out")"
        rm -f "$RUN/e2e-$acct.out"
    done
    (
        unset AWS_CA_BUNDLE
        S3_ENDPOINT="$(s3_endpoint)" S3_ACCESS_KEY="$(s3_access_key)" S3_SECRET_KEY="$(s3_secret_key)" \
            tb_python check_s3.py
    ) >>"$LOG/e2e.log" 2>&1 || fail "seaweedfs (boto3)" "$LOG/e2e.log" "boto3 ListBuckets failed"
    PG_TEST_URL="$(pg_url heroes_test)" PG_ADMIN_URL="$(pg_url postgres)" \
        tb_python check_postgres.py >>"$LOG/e2e.log" 2>&1 ||
        fail "postgres (sqlalchemy)" "$LOG/e2e.log" "SQLAlchemy/psycopg check failed"
    kc_check >>"$LOG/e2e.log" 2>&1 || fail "keycloak (admin API, JWKS)" "$LOG/e2e.log" "Keycloak check failed"
    os_check >>"$LOG/e2e.log" 2>&1 ||
        fail "opensearch (template, bulk, search)" "$LOG/e2e.log" "OpenSearch check failed"
    say "verify: ok"
}
