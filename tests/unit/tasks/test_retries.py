"""Only failures whose outcome a retry can change are retried: a lost link or a timeout."""

import pytest
from prefect.states import Failed

from heroes.tasks.jobs import _retry_transient
from heroes_core.errors import (
    CommandTimeoutError,
    ConnectionLostError,
    HostKeyError,
    SpecError,
    UnreachableError,
)


@pytest.mark.parametrize("error", [ConnectionLostError("link dropped", site="hpc1"),
                                   CommandTimeoutError("sbatch did not answer", site="hpc1")])
def test_a_lost_link_or_a_timeout_is_retried(error: Exception) -> None:
    assert _retry_transient(None, None, Failed(data=error)) is True


@pytest.mark.parametrize("error", [TypeError("unsupported operand"), KeyError("x"),
                                   SpecError("bad spec"), HostKeyError("changed key", site="hpc1"),
                                   UnreachableError("no route", site="hpc1")])
def test_programming_errors_bad_input_and_refused_hosts_fail_fast(error: Exception) -> None:
    assert _retry_transient(None, None, Failed(data=error)) is False
