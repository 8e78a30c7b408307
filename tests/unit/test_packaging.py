"""The namespace ``heroes.*`` imports the same from an editable and from a wheel install,
a wheel carries the Ansible role/playbooks and the Terraform modules, and leaves the
local test bed's helpers out."""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["heroes.blocks", "heroes.tasks", "heroes.flows", "heroes.deployments", "heroes.cli", "heroes_core"]
PROBE = ("import importlib, sys\n"
         "for name in sys.argv[1:]:\n"
         "    print(name, importlib.import_module(name).__file__)\n")
ANSIBLE_FILES = ["playbooks/runtime.yml", "playbooks/compliance.yml",
                 "roles/heroes_runtime/tasks/main.yml", "roles/heroes_runtime/defaults/main.yml",
                 "roles/heroes_runtime/meta/main.yml", "README.md"]
TERRAFORM_FILES = [f"{cloud}/{name}" for cloud in ("aws", "oci")
                   for name in ("main.tf", "variables.tf", "outputs.tf", "cluster_variables.tf",
                                "cluster_outputs.tf")] + ["shared/cloud-init.yaml.tpl"]
ASSETS_PROBE = ("from heroes_core.assets import ansible_dir, terraform_dir\n"
                "from heroes_core.enrolment.ansible import ansible_dir as deployment_ansible_dir\n"
                "from heroes_core.cloud.terraform import module_dir\n"
                "print(ansible_dir())\nprint(deployment_ansible_dir())\nprint(terraform_dir())\n"
                "print(module_dir('aws'))\nprint(module_dir('oci'))\n")
# Python files that serve only the local test bed (scripts/testbed/), by file name.
TESTBED_ONLY = {"testbed.py", "testbed_config.py", "register_blocks.py", "check_s3.py",
                "check_postgres.py"}


def _not_sources(directory: str, names: list[str]) -> set[str]:
    """The checkout's build output, venv, VCS and caches."""
    if Path(directory) != ROOT:
        return {"__pycache__"} & set(names)
    return {name for name in names
            if name.startswith(".") or name in {"build", "dist"} or name.endswith(".egg-info")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: setuptools packs whatever the checkout's build/ folder still holds,
    # files removed from the sources included.
    source = tmp_path_factory.mktemp("source") / "heroes"
    shutil.copytree(ROOT, source, ignore=_not_sources)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(source)], check=True)
    (built,) = dist.glob("heroes-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True)
    return target


def _run_from_wheel(target: Path, cwd: Path, code: str, *args: str) -> str:
    # -S skips site.py, so the editable finder of this venv is not loaded; the
    # dependencies still come from the venv's site-packages, the heroes code from the wheel.
    deps = sysconfig.get_paths()["purelib"]
    env = {"PYTHONPATH": f"{target}:{deps}", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-S", "-c", code, *args], cwd=cwd, env=env,
                          check=True, capture_output=True, text=True).stdout


def test_editable_install_maps_top_level_folders_into_the_heroes_namespace(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, *MODULES], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout
    files = dict(line.split(" ", 1) for line in out.splitlines())
    assert files["heroes.blocks"] == str(ROOT / "blocks" / "__init__.py")
    assert files["heroes.tasks"] == str(ROOT / "tasks" / "__init__.py")


def test_a_checkout_finds_the_repository_ansible_and_terraform_folders(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", ASSETS_PROBE], cwd=tmp_path, check=True,
                         capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out == [str(ROOT / "ansible")] * 2 + [str(ROOT / "terraform"),
                                                 str(ROOT / "terraform" / "aws"),
                                                 str(ROOT / "terraform" / "oci")]


def test_wheel_install_provides_the_same_modules(wheel_site: Path, tmp_path: Path) -> None:
    assert (wheel_site / "heroes" / "blocks" / "logos" / "hpc_centre.png").exists()
    out = _run_from_wheel(wheel_site, tmp_path, PROBE, *MODULES)
    for line in out.splitlines():
        name, path = line.split(" ", 1)
        assert path.startswith(str(wheel_site)), f"{name} imported from {path}, not the wheel"


def test_wheel_carries_the_ansible_role_and_both_terraform_modules(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = ([f"heroes_core/assets/ansible/{name}" for name in ANSIBLE_FILES]
                + [f"heroes_core/assets/terraform/{name}" for name in TERRAFORM_FILES]
                + ["heroes_core/assets/terraform/README.md"])
    missing = [name for name in expected if name not in names]
    assert not missing, f"the wheel lacks {missing}"


def test_wheel_install_finds_playbooks_and_modules_outside_the_checkout(wheel_site: Path,
                                                                        tmp_path: Path) -> None:
    out = _run_from_wheel(wheel_site, tmp_path, ASSETS_PROBE).splitlines()
    ansible, deployment_ansible, terraform, aws, oci = (Path(line) for line in out)
    assert ansible == deployment_ansible == wheel_site / "heroes_core" / "assets" / "ansible"
    assert terraform == wheel_site / "heroes_core" / "assets" / "terraform"
    assert (aws, oci) == (terraform / "aws", terraform / "oci")
    for path in (ansible, terraform):
        assert not path.is_relative_to(ROOT)
    for name in ANSIBLE_FILES:
        assert (ansible / name).is_file(), name
    for name in TERRAFORM_FILES:
        assert (terraform / name).is_file(), name


def test_wheel_install_still_honours_heroes_ansible_dir(wheel_site: Path, tmp_path: Path) -> None:
    code = f"import os; os.environ['HEROES_ANSIBLE_DIR'] = {str(tmp_path)!r}\n" + ASSETS_PROBE
    out = _run_from_wheel(wheel_site, tmp_path, code).splitlines()
    assert out[1] == str(tmp_path)


def test_wheel_leaves_the_test_bed_seeding_and_its_config_reader_out(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "heroes/deployments/__init__.py" in names
    leaked = [name for name in names if PurePosixPath(name).name in TESTBED_ONLY]
    assert not leaked, f"the wheel carries test-bed helpers {leaked}"
