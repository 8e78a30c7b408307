# shellcheck shell=bash
# testbed.json: what `up` started, for the tests, the benchmarks and the demo
# (format and reader in testbed_config.py). Secrets go through the environment, never argv.

PARTITIONS=(debug batch) # as in slurm.conf.in; the first is the default
# The partition whose GPUs the centres declare (the node's, GPU_TYPE x GPU_COUNT in slurm.sh);
# the other partitions declare none, so that HEROES refuses GPU jobs there.
GPU_PARTITION="batch"

write_testbed_json() {
    TB_STATE="$STATE" TB_SSH_PORT="$SSH_PORT" TB_HOST_KEY="$(host_key)" TB_DIGEST="$(image_digest)" \
        TB_ACCOUNTS="${ACCOUNTS[*]}" TB_NAMES="${CENTRE_NAMES[*]}" TB_PARTITIONS="${PARTITIONS[*]}" \
        TB_CLUSTER="$CLUSTER" TB_S3_ENDPOINT="$(s3_endpoint)" \
        TB_GPU_PARTITION="$GPU_PARTITION" TB_GPU_TYPE="$GPU_TYPE" TB_GPU_COUNT="$GPU_COUNT" \
        TB_S3_ACCESS_KEY="$(s3_access_key)" TB_S3_SECRET_KEY="$(s3_secret_key)" \
        TB_PREFECT_API_URL="$(prefect_api_url)" TB_PREFECT_DB_URL="$(pg_url prefect)" \
        TB_PG_URL="$(pg_url heroes)" TB_PG_TEST_URL="$(pg_url heroes_test)" TB_PG_ADMIN_URL="$(pg_url postgres)" \
        TB_KC_URL="$(kc_url)" TB_KC_MGMT_URL="http://127.0.0.1:$KC_MGMT_PORT" TB_KC_ADMIN="$KC_ADMIN" \
        TB_KC_PASSWORD_PATH="$(kc_password_file)" TB_KC_VERSION="$KC_VERSION" \
        TB_SEARCH_URL="$(os_url)" TB_SEARCH_VERSION="$OS_VERSION" \
        tb_python testbed_config.py write
}
