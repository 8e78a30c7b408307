"""The namespace ``heroes.*`` imports the same from an editable and from a wheel install."""

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["heroes.blocks", "heroes.tasks", "heroes.flows", "heroes.deployments", "heroes_core"]
PROBE = ("import importlib, sys\n"
         "for name in sys.argv[1:]:\n"
         "    print(name, importlib.import_module(name).__file__)\n")


def test_editable_install_maps_top_level_folders_into_the_heroes_namespace(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, *MODULES], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout
    files = dict(line.split(" ", 1) for line in out.splitlines())
    assert files["heroes.blocks"] == str(ROOT / "blocks" / "__init__.py")
    assert files["heroes.tasks"] == str(ROOT / "tasks" / "__init__.py")


def test_wheel_install_provides_the_same_modules(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True)
    (wheel,) = (tmp_path / "dist").glob("heroes-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True)
    assert (target / "heroes" / "blocks" / "logos" / "hpc_centre.png").exists()
    # -S skips site.py, so the editable finder of this venv is not loaded; the
    # dependencies still come from the venv's site-packages, the heroes code from the wheel.
    deps = sysconfig.get_paths()["purelib"]
    env = {"PYTHONPATH": f"{target}:{deps}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-S", "-c", PROBE, *MODULES], cwd=tmp_path, env=env,
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        name, path = line.split(" ", 1)
        assert path.startswith(str(target)), f"{name} imported from {path}, not the wheel"
