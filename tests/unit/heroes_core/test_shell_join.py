"""No argument can become shell code: the joined command is checked by a real shell."""

import subprocess
from pathlib import Path

import pytest

from heroes_core.transport import shell_join

HOSTILE = [
    "$(touch {marker})",
    "`touch {marker}`",
    "; touch {marker}",
    "a && touch {marker}",
    "'; touch {marker}; '",
    '"; touch {marker}; "',
    "line\ntouch {marker}",
    "| touch {marker}",
    "$HOME",
    "*",
    "--flag=x y",
    "",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_arguments_arrive_verbatim_and_run_nothing(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    arg = template.format(marker=marker)
    command = shell_join(["printf", "%s\\0", arg, "end"])
    out = subprocess.run(["sh", "-c", command], capture_output=True, check=True).stdout
    assert out.split(b"\0")[:2] == [arg.encode(), b"end"]
    assert not marker.exists()


def test_empty_command_is_refused() -> None:
    with pytest.raises(ValueError):
        shell_join([])
