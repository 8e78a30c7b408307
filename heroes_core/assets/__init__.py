"""The HEROES ``ansible/`` and ``terraform/`` folders, found through the installed package.

The repository keeps both folders at its root. ``pyproject.toml`` maps them onto the data
packages ``heroes_core.assets.ansible`` and ``heroes_core.assets.terraform``, so a wheel
installs them as ``heroes_core/assets/ansible/`` and ``heroes_core/assets/terraform/`` and an
editable install maps those names back onto the root folders. Each folder holds an empty
``__init__.py``: setuptools' editable finder only maps a package that has one, and on
Python 3.11 ``importlib.resources.files`` gives a real directory only for a regular package.

Both are looked up with :func:`importlib.resources.files`, never relative to this file, so an
installed HEROES finds its own copy from any working directory. The one exception: an
editable install made before these data packages were mapped does not know their names, and
then the folders next to ``heroes_core/`` in the checkout are used (``pip install -e .`` again
removes the need).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from heroes_core.errors import HeroesError

ANSIBLE_PACKAGE = f"{__name__}.ansible"
TERRAFORM_PACKAGE = f"{__name__}.terraform"


def _folder(package: str, checkout_folder: str) -> Path:
    try:
        found = resources.files(package)
    except ModuleNotFoundError:
        # editable install older than the mapping: the checkout's root folder
        return Path(__file__).resolve().parents[2] / checkout_folder
    if not isinstance(found, Path):
        raise HeroesError(f"{package} is installed inside an archive ({found}), not as a folder",
                          fix="install the heroes wheel with pip (unpacked into site-packages)")
    return found


def ansible_dir() -> Path:
    """The installed ``ansible/`` folder: ``roles/`` and ``playbooks/``."""
    return _folder(ANSIBLE_PACKAGE, "ansible")


def terraform_dir() -> Path:
    """The installed ``terraform/`` folder: one module per cloud (``aws/``, ``oci/``)."""
    return _folder(TERRAFORM_PACKAGE, "terraform")


__all__ = ["ANSIBLE_PACKAGE", "TERRAFORM_PACKAGE", "ansible_dir", "terraform_dir"]
