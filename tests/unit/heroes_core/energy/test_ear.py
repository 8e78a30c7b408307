"""EAR's energy for a job from ``eacct -l -c`` output, and the policy names HEROES passes on.

The outputs below follow the columns of EAR's ``eacct`` CSV (its manual; the test bed has no
EAR): one line per node and step, ``;``-separated, the batch step numbered 4294967291.
"""

import pytest

from heroes_core.energy import check_policy, eacct_argv, parse_eacct_csv
from heroes_core.errors import SpecError

HEADER = ("NODENAME;JOBID;STEPID;USERID;GROUPID;JOBNAME;USER_ACC;ENERGY_TAG;POLICY;POLICY_TH;"
          "AVG_CPUFREQ_KHZ;AVG_IMCFREQ_KHZ;DEF_FREQ_KHZ;TIME_SEC;CPI;TPI;MEM_GBS;IO_MBS;PERC_MPI;"
          "DC_NODE_POWER_W;DRAM_POWER_W;PCK_POWER_W;CYCLES;INSTRUCTIONS;CPU-GFLOPS")


def line(node: str, step: str, seconds: float, watts: float, job: str = "4711", policy: str = "min_energy") -> str:
    return (f"{node};{job};{step};ada;hpc;solver;acme;;{policy};0.05;2400000;2000000;2600000;{seconds};"
            f"0.52;0.01;12.3;0.4;5.1;{watts};20.1;180.2;123456789;234567890;12.5")


def output(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def test_a_steps_energy_is_each_nodes_power_times_its_time_and_the_batch_step_overlaps_the_others() -> None:
    ear = parse_eacct_csv(output(line("n1", "0", 100, 300), line("n2", "0", 100, 320),
                                 line("n1", "1", 10, 250), line("n1", "4294967291", 115, 290)), "4711")
    assert ear.energy_j == pytest.approx(100 * 300 + 100 * 320 + 10 * 250)
    assert (ear.steps, ear.policy, ear.problems) == (2, "min_energy", ())


def test_a_job_run_in_its_batch_step_alone_counts_that_step() -> None:
    ear = parse_eacct_csv(output(line("n1", "4294967291", 60, 200)), "4711")
    assert (ear.energy_j, ear.steps) == (12000, 1)


def test_an_unreadable_line_voids_the_figure_and_says_which_line() -> None:
    ear = parse_eacct_csv(output(line("n1", "0", 100, 300), line("n2", "0", "n/a", 320)), "4711")  # type: ignore[arg-type]
    assert ear.energy_j is None
    assert ear.problems == ("line 3: TIME_SEC 'n/a' or DC_NODE_POWER_W '320' is not a number",)


def test_another_jobs_line_is_refused_not_added() -> None:
    ear = parse_eacct_csv(output(line("n1", "0", 100, 300), line("n1", "0", 100, 300, job="4712")), "4711")
    assert ear.energy_j is None and "job '4712', not 4711" in ear.problems[0]


def test_output_without_the_energy_columns_is_reported() -> None:
    ear = parse_eacct_csv("JOBID;STEPID\n4711;0\n", "4711")
    assert ear.energy_j is None and "lacks column(s) TIME_SEC, DC_NODE_POWER_W" in ear.problems[0]
    assert parse_eacct_csv("", "4711").energy_j is None


def test_eacct_is_asked_for_one_job_and_its_csv_file_is_removed() -> None:
    argv = eacct_argv("4711", "/w/job/.heroes-eacct.csv")
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["sh", "4711", "/w/job/.heroes-eacct.csv"]
    assert 'rm -f "$2"' in argv[2]
    with pytest.raises(SpecError, match="not a batch job id"):
        eacct_argv("1; rm -rf ~", "/x")


@pytest.mark.parametrize("name", ["--ear-policy=x", "MIN", "", "a" * 33, "min energy"])
def test_a_policy_name_is_a_short_lower_case_word(name: str) -> None:
    with pytest.raises(SpecError, match="not an EAR policy name"):
        check_policy(name)
    assert check_policy("min_energy") == "min_energy"
