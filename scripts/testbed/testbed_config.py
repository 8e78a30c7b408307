"""``testbed.json``: how the local test bed describes itself to its clients.

``scripts/testbed.sh up`` writes it (``testbed_config.py write``, fed by testbed-json.sh);
the integration tests, the benchmarks, the demo and the block registration read it with
``read_testbed``, shell scripts with ``testbed_config.py get prefect.api_url``. One module
for both sides, so the file's place and shape are defined once.
It lives with the test bed, not in the installed package: it describes this machine, and
it uses only the standard library, so it runs before anything else is known to work.
"""

from __future__ import annotations

import json
import os
import pwd
import sys
from pathlib import Path
from typing import Any

DEFAULT_STATE = "/var/lib/heroes-testbed"


def state_dir() -> Path:
    return Path(os.environ.get("HEROES_TESTBED_DIR", DEFAULT_STATE))


def testbed_file() -> Path:
    return state_dir() / "testbed.json"


def read_testbed(path: Path | None = None) -> dict[str, Any]:
    path = path or testbed_file()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `scripts/testbed.sh up` first")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def describe(env: dict[str, str]) -> dict[str, Any]:
    """The document, from the values testbed-json.sh passes in the environment (TB_*)."""
    state = env["TB_STATE"]
    centres = []
    for name, account in zip(env["TB_NAMES"].split(), env["TB_ACCOUNTS"].split(), strict=True):
        home = pwd.getpwnam(account).pw_dir
        centres.append({
            "name": name, "host": "127.0.0.1", "port": int(env["TB_SSH_PORT"]), "user": account,
            "private_key_path": f"{state}/keys/{account}", "host_key": env["TB_HOST_KEY"],
            "known_hosts_path": f"{state}/known_hosts", "partitions": env["TB_PARTITIONS"].split(),
            "work_root": f"{home}/heroes",
            # GPUs per node of the partition that has them (Slurm GRES without hardware).
            "gpus": {env["TB_GPU_PARTITION"]: {"per_node": int(env["TB_GPU_COUNT"]),
                                               "type": env["TB_GPU_TYPE"]}},
            "image": {"path": f"{home}/images/busybox.tar.gz", "digest": "sha256:" + env["TB_DIGEST"]},
        })
    return {
        "centres": centres,
        "slurm": {"cluster": env["TB_CLUSTER"]},
        "s3": {"endpoint": env["TB_S3_ENDPOINT"], "access_key": env["TB_S3_ACCESS_KEY"],
               "secret_key": env["TB_S3_SECRET_KEY"], "region": "us-east-1"},
        "prefect": {"api_url": env["TB_PREFECT_API_URL"], "database_url": env["TB_PREFECT_DB_URL"]},
        "postgres": {"url": env["TB_PG_URL"], "test_url": env["TB_PG_TEST_URL"],
                     "admin_url": env["TB_PG_ADMIN_URL"]},
        # The bootstrap admin of the master realm; its password stays in its 0600 file.
        "keycloak": {"url": env["TB_KC_URL"], "management_url": env["TB_KC_MGMT_URL"],
                     "admin_realm": "master", "admin_user": env["TB_KC_ADMIN"],
                     "admin_password_path": env["TB_KC_PASSWORD_PATH"], "version": env["TB_KC_VERSION"]},
        # The search cluster the ECS logs go to: one OpenSearch node, plain HTTP, no authentication.
        "search": {"url": env["TB_SEARCH_URL"], "engine": "opensearch", "version": env["TB_SEARCH_VERSION"]},
    }


def write_testbed(doc: dict[str, Any], path: Path) -> None:
    """Replace the file only when its content changes; mode 0600 (it holds keys and passwords)."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = None
    if old != doc:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    os.chmod(path, 0o600)


def main(argv: list[str]) -> None:
    match argv:
        case ["write"]:
            write_testbed(describe(dict(os.environ)), Path(os.environ["TB_STATE"]) / "testbed.json")
        case ["get", key]:
            value: Any = read_testbed()
            for part in key.split("."):
                value = value[int(part)] if isinstance(value, list) else value[part]
            print(value)
        case _:
            sys.exit("usage: testbed_config.py write | get KEY[.KEY...]  (e.g. prefect.api_url)")


if __name__ == "__main__":
    main(sys.argv[1:])
