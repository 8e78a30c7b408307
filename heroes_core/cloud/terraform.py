"""Drive Terraform (through python-terraform) for an organisation's private cloud cluster.

One run = a private working directory holding a copy of the module, laid out as
in ``terraform/`` (``WORK/<module>/`` next to ``WORK/shared/``, the templates both
modules use through ``${path.module}/../shared/``; Terraform runs in
``WORK/<module>``), a ``backend.hcl`` naming the organisation's state in the archive bucket
(``key=_heroes/terraform/terraform.tfstate``) and a ``heroes.tfvars.json`` with the
variables (credentials included). Both files are mode 0600 and passed by path,
so no secret appears on a command line or in python-terraform's debug log. A
provider's private key (OCI's API signing key) is not a variable at all: it is
written to :data:`PROVIDER_KEY_FILE` (0600) and the variable holds its path, so
no private key lands in the variables file or the saved plan.

The state in the archive is the record of what exists: an apply that stopped
half way leaves the created resources in the state, and running the same plan
again converges (Terraform creates only what is missing). Nothing here is
AWS- or OCI-specific; the same code runs wherever the providers can be
installed (this test machine cannot download them, so tests check the command
lines and generated files, not a real apply).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from heroes_core import assets
from heroes_core.data import HEROES_PREFIX
from heroes_core.errors import HeroesError
from heroes_core.models import ORGANISATION_PATTERN

PLAN_FILE = "heroes.tfplan"
VARS_FILE = "heroes.tfvars.json"
BACKEND_FILE = "backend.hcl"
PROVIDER_KEY_FILE = "provider-api-key.pem"
SHARED_DIR = "shared"
_MODULE_SUFFIXES = (".tf", ".tpl", ".tftpl", ".yaml")


class TerraformError(HeroesError):
    """A Terraform command failed."""


class BackendConfig(BaseModel):
    """Where an organisation's Terraform state lives: its archive bucket."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key: str | None = None
    secret_key: SecretStr | None = None

    @classmethod
    def for_organisation(cls, organisation: str, bucket: str, **kwargs: Any) -> BackendConfig:
        return cls(bucket=bucket, key=state_key(organisation), **kwargs)

    def hcl(self) -> str:
        """The partial backend configuration for ``terraform init -backend-config=FILE``."""
        values: dict[str, str | bool] = {"bucket": self.bucket, "key": self.key, "region": self.region}
        if self.endpoint_url:  # a non-AWS S3 (the HEROES archive): no AWS-only checks
            values.update({"endpoint": self.endpoint_url, "force_path_style": True,
                           "skip_credentials_validation": True, "skip_region_validation": True,
                           "skip_metadata_api_check": True})
        if self.access_key:
            values["access_key"] = self.access_key
        if self.secret_key:
            values["secret_key"] = self.secret_key.get_secret_value()
        return "".join(f"{k} = {_hcl_value(v)}\n" for k, v in values.items())


def state_key(organisation: str) -> str:
    """Where an organisation's state lives in its bucket: below HEROES' own prefix, which no
    user's home can be, so no user (not even one named like the organisation) owns the state."""
    if not re.fullmatch(ORGANISATION_PATTERN, organisation):
        raise ValueError(f"invalid organisation name for a state key: {organisation!r}")
    return f"{HEROES_PREFIX}/terraform/terraform.tfstate"


def _hcl_value(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # a JSON string is a valid HCL string literal


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (0600) from the moment it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _default_factory(working_dir: str, binary: str) -> Any:
    from python_terraform import Terraform  # type: ignore[import-untyped]

    return Terraform(working_dir=working_dir, terraform_bin_path=binary)


def _flag() -> Any:
    from python_terraform import IsFlagged

    return IsFlagged


def module_dir(provider: str) -> Path:
    """The installed Terraform module of one cloud (``aws`` or ``oci``): the folder to copy."""
    return assets.terraform_dir() / provider


def _copy_files(source_dir: Path, target_dir: Path) -> None:
    target_dir.mkdir(exist_ok=True, mode=0o700)
    for source in sorted(source_dir.iterdir()):
        if source.is_file() and source.name.endswith(_MODULE_SUFFIXES):
            shutil.copy2(source, target_dir / source.name)


class TerraformRun:
    """One organisation's Terraform working directory and the commands run in it.

    ``working_dir`` is the private root of the run; the module is copied to
    ``working_dir/<module name>`` (:attr:`working_dir` afterwards, where Terraform
    runs and the variables, backend and plan files live) and the module's sibling
    ``shared/`` folder to ``working_dir/shared``, so ``${path.module}/../shared``
    resolves in the copy as in ``terraform/``.
    """

    def __init__(self, module_dir: str | Path, working_dir: str | Path, *, binary: str = "terraform",
                 site: str = "terraform",
                 terraform_factory: Callable[[str, str], Any] = _default_factory) -> None:
        self.module_dir = Path(module_dir).resolve()
        if self.module_dir.name == SHARED_DIR:
            raise ValueError(f"{self.module_dir} holds the shared templates, not a module")
        self.root = Path(working_dir)
        self.working_dir = self.root / self.module_dir.name
        self.binary = binary
        self.site = site
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        _copy_files(self.module_dir, self.working_dir)
        shared = self.module_dir.parent / SHARED_DIR
        if shared.is_dir():
            _copy_files(shared, self.root / SHARED_DIR)
        self.tf = terraform_factory(str(self.working_dir), binary)

    # --- files --------------------------------------------------------------------------

    def write_variables(self, variables: Mapping[str, Any]) -> Path:
        path = self.working_dir / VARS_FILE
        write_private(path, json.dumps(dict(variables), indent=2, sort_keys=True))
        return path

    def write_backend(self, backend: BackendConfig) -> Path:
        path = self.working_dir / BACKEND_FILE
        write_private(path, backend.hcl())
        return path

    def cleanup(self) -> None:
        """Remove the files holding secrets (variables, backend, plan, provider key)."""
        for name in (VARS_FILE, BACKEND_FILE, PLAN_FILE, PROVIDER_KEY_FILE):
            (self.working_dir / name).unlink(missing_ok=True)

    # --- commands -----------------------------------------------------------------------

    def _run(self, command: str, *args: str, ok: tuple[int, ...] = (0,), **options: Any) -> tuple[int, str]:
        code, out, err = self.tf.cmd(command, *args, **options)
        if code not in ok:
            text = (err or out or "(no output)").strip().splitlines()
            raise TerraformError(f"`terraform {command}` exited {code}: {' | '.join(text[-5:])}",
                                 site=self.site, fix=_fix_for(command, err or ""))
        return int(code), str(out or "")

    def init(self, backend: BackendConfig) -> None:
        path = self.write_backend(backend)
        self._run("init", backend_config=[path.name], reconfigure=_flag(), input=False, no_color=_flag())

    def plan(self, variables: Mapping[str, Any]) -> bool:
        """Write the saved plan; True when it changes anything."""
        self.write_variables(variables)
        code, _ = self._run("plan", ok=(0, 2), out=PLAN_FILE, var_file=VARS_FILE, input=False,
                            detailed_exitcode=_flag(), no_color=_flag())
        return code == 2

    def show_plan(self) -> dict[str, Any]:
        _, out = self._run("show", PLAN_FILE, json=_flag(), no_color=_flag())
        shown: dict[str, Any] = json.loads(out)
        return shown

    def apply(self) -> None:
        """Apply exactly the saved plan (no new planning, no prompt)."""
        self._run("apply", PLAN_FILE, input=False, auto_approve=_flag(), no_color=_flag())

    def outputs(self) -> dict[str, Any]:
        _, out = self._run("output", json=_flag(), no_color=_flag())
        raw: dict[str, Any] = json.loads(out or "{}")
        return {name: item.get("value") for name, item in raw.items()}


def _fix_for(command: str, stderr: str) -> str:
    lowered = stderr.lower()
    if command == "init" and ("registry.terraform.io" in lowered or "failed to query available provider" in
                              lowered or "could not retrieve the list" in lowered):
        return ("Terraform could not download the providers: give the machine running the flow access "
                "to registry.terraform.io, or configure a provider mirror (TF_CLI_CONFIG_FILE)")
    if "error acquiring the state lock" in lowered:
        return "another run holds the state lock; wait for it, or `terraform force-unlock` if it died"
    if command == "init" and ("backend" in lowered or "s3" in lowered):
        return "check the archive endpoint, bucket and keys used for the organisation's Terraform state"
    if command == "apply":
        return ("the state in the archive records what was created; fix the cause above and run the "
                "flow again, Terraform creates only what is missing")
    return "read Terraform's message above"


def plan_markdown(plan: Mapping[str, Any], *, title: str) -> str:
    """A markdown summary of ``terraform show -json PLAN`` for the Prefect UI."""
    rows = []
    counts: dict[str, int] = {}
    for change in plan.get("resource_changes", []) or []:
        actions = [a for a in change.get("change", {}).get("actions", []) if a != "no-op"]
        if not actions:
            continue
        action = "replace" if set(actions) == {"create", "delete"} else "/".join(actions)
        counts[action] = counts.get(action, 0) + 1
        rows.append(f"| {action} | `{change.get('address', '?')}` | {change.get('type', '')} |")
    summary = ", ".join(f"{n} to {a}" for a, n in sorted(counts.items())) or "no changes"
    lines = [f"## {title}", "", f"Terraform {plan.get('terraform_version', '')}: **{summary}**.", ""]
    if rows:
        lines += ["| action | resource | type |", "|---|---|---|", *rows, ""]
    outputs = sorted((plan.get("planned_values", {}) or {}).get("outputs", {}) or {})
    if outputs:
        lines += ["Outputs: " + ", ".join(f"`{o}`" for o in outputs), ""]
    return "\n".join(lines)
