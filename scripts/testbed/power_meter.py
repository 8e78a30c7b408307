"""The test bed's power meter: RAPL energy counters that Slurm's ``acct_gather_energy/rapl`` reads.

The test bed runs on machines without RAPL (no ``/sys/class/powercap``, no ``msr`` module), so
Slurm could not measure a job's energy. Slurm's RAPL plugin (22.05) finds one CPU per package
in ``/proc/cpuinfo`` (the first ``processor`` of each ``physical id``), opens
``/dev/cpu/<cpu>/msr`` once and reads 8 bytes at the MSR's address used as the file offset:
``MSR_RAPL_POWER_UNIT`` (0x606; energy unit = 0.5 ** bits 12:8), ``MSR_PKG_ENERGY_STATUS``
(0x611) and ``MSR_DRAM_ENERGY_STATUS`` (0x619), keeping bits 31:0 of each energy counter and
counting a wrap whenever a reading is below the one before (as real RAPL counters wrap).
``MSR_PKG_POWER_INFO`` (0x614) is read only with ``DebugFlags=Energy``, and only logged.

This meter makes those files regular files in ``/dev`` (a devtmpfs root may write) and
advances the package counter in place, so the plugin reads them exactly as it reads real MSRs.
Its wattage model, for the whole node, split evenly over the packages:

    watts = idle_w + cpu_w * busy CPUs

where busy CPUs = online CPUs x the non-idle share of ``/proc/stat``'s ``cpu`` line over the
last interval (user, nice, system, irq, softirq and steal count as busy; idle and iowait as
idle). DRAM has no model: its counter stays 0. The counter is 32 bits in units of 2**-14 J
(Intel's usual ``MSR_RAPL_POWER_UNIT`` 0xA0E03), so it wraps every 262,144 J, ~50 min at 90 W.
A new file's counter starts ``FIRST_WRAP_J`` (3,000 J) short of the wrap, as real counters
start anywhere: a new test bed's slurmd reads across a wrap within its first minute.

Byte layout (MSR reads overlap in a file): 0x606-0x60D power unit; 0x611-0x614 package
counter, 0x615-0x618 zero (reserved bits 63:32); 0x619-0x620 the DRAM counter, 0. The
``POWER_INFO`` read at 0x614 overlaps these, so its debug-only "max power" is meaningless.

The files are updated in place and never recreated: slurmd and every slurmstepd keep them
open. A restarted meter resumes from the counter it finds. A real ``msr`` character device is
never touched: ``run`` refuses to start if one exists (then Slurm reads the hardware).

Usage (root, the project's venv Python; ``scripts/testbed/slurm.sh`` starts and checks it):

    power_meter.py run --status FILE [--idle-w W] [--cpu-w W] [--interval S]
    power_meter.py check --status FILE [--idle-w W] [--cpu-w W]   # exit 0 if healthy
    power_meter.py packages                                        # the plugin's CPUs

``--status`` is a JSON file rewritten each interval: the model, the files, the latest watts
and ``joules``, the energy this meter process has counted since it started, at ``updated``
(epoch seconds); tests read it to predict what Slurm should report.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

MSR_RAPL_POWER_UNIT = 0x606
MSR_PKG_ENERGY_STATUS = 0x611
MSR_DRAM_ENERGY_STATUS = 0x619
# Intel's usual value: power unit 1/8 W (bits 3:0 = 3), energy unit 2**-14 J (bits 12:8 = 14),
# time unit 2**-10 s (bits 19:16 = 10).
POWER_UNIT_VALUE = 0x000A0E03
ENERGY_UNIT_J = 0.5 ** ((POWER_UNIT_VALUE >> 8) & 0x1F)
COUNTER_MODULO = 1 << 32
FILE_SIZE = MSR_DRAM_ENERGY_STATUS + 8  # every 8-byte read the plugin makes is a full read
FIRST_WRAP_J = 3000.0

DEFAULT_IDLE_W = 50.0
DEFAULT_CPU_W = 20.0
DEFAULT_INTERVAL_S = 0.2
STALE_AFTER_S = 5.0


def plugin_cpus(cpuinfo: str) -> dict[int, int]:
    """Package id -> the CPU whose msr file Slurm's RAPL plugin opens (as its ``_hardware()``)."""
    packages: dict[int, int] = {}
    cpu = -1
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        name = name.strip()
        if name == "processor":
            cpu = int(value)
        elif name == "physical id" and cpu >= 0:
            packages.setdefault(int(value), cpu)
    return packages


def msr_path(cpu: int) -> Path:
    return Path(f"/dev/cpu/{cpu}/msr")


def cpu_times() -> tuple[int, int, int]:
    """(busy jiffies, all jiffies, online CPUs) from /proc/stat."""
    busy = total = ncpu = 0
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                fields = [int(v) for v in line.split()[1:9]]
                user, nice, system, idle, iowait, irq, softirq, steal = fields
                busy = user + nice + system + irq + softirq + steal
                total = busy + idle + iowait
            elif line.startswith("cpu"):
                ncpu += 1
    return busy, total, max(ncpu, 1)


def busy_cpus(before: tuple[int, int, int], after: tuple[int, int, int]) -> float:
    d_busy, d_total = after[0] - before[0], after[1] - before[1]
    if d_total <= 0:
        return 0.0
    return after[2] * min(max(d_busy / d_total, 0.0), 1.0)


def watts(idle_w: float, cpu_w: float, busy: float) -> float:
    return idle_w + cpu_w * busy


def advance(counter: int, fraction: float, joules: float) -> tuple[int, float]:
    """The 32-bit counter (and the sub-unit remainder) after ``joules`` more, wrapping as RAPL."""
    units = fraction + joules / ENERGY_UNIT_J
    whole = int(units)
    return (counter + whole) % COUNTER_MODULO, units - whole


def read_counter(fd: int, offset: int = MSR_PKG_ENERGY_STATUS) -> int:
    data = os.pread(fd, 8, offset)
    return int.from_bytes(data[:4].ljust(4, b"\0"), "little")


def write_counter(fd: int, value: int, offset: int = MSR_PKG_ENERGY_STATUS) -> None:
    os.pwrite(fd, value.to_bytes(4, "little"), offset)


class RealMsrError(RuntimeError):
    """A real msr device exists where the meter would put its file."""


def open_msr_file(path: Path) -> int:
    """Open (creating once) the meter's regular file at ``path``; never a real device."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o400)
        os.ftruncate(fd, FILE_SIZE)
        write_counter(fd, COUNTER_MODULO - int(FIRST_WRAP_J / ENERGY_UNIT_J))
    else:
        if not stat.S_ISREG(st.st_mode):
            raise RealMsrError(f"{path} exists and is not a regular file (a real msr device?): "
                               "not replacing it; Slurm reads the hardware there")
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        if os.fstat(fd).st_size < FILE_SIZE:
            os.ftruncate(fd, FILE_SIZE)  # grows only; the plugin's fds see the same inode
    os.pwrite(fd, POWER_UNIT_VALUE.to_bytes(8, "little"), MSR_RAPL_POWER_UNIT)
    os.pwrite(fd, bytes(4), MSR_PKG_ENERGY_STATUS + 4)
    os.pwrite(fd, bytes(8), MSR_DRAM_ENERGY_STATUS)
    return fd


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    packages = plugin_cpus(Path("/proc/cpuinfo").read_text())
    if not packages:
        print("power meter: /proc/cpuinfo names no 'physical id': Slurm's RAPL plugin would find "
              "no package", file=sys.stderr)
        return 2
    fds: dict[int, int] = {}
    try:
        for package, cpu in sorted(packages.items()):
            fds[package] = open_msr_file(msr_path(cpu))
    except RealMsrError as exc:
        print(f"power meter: {exc}", file=sys.stderr)
        return 3
    counters = {package: read_counter(fd) for package, fd in fds.items()}
    fractions = dict.fromkeys(fds, 0.0)
    status_path = Path(args.status)
    status_path.parent.mkdir(parents=True, exist_ok=True)

    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.time()
    total_j = 0.0
    last_times = cpu_times()
    last = time.monotonic()
    power = watts(args.idle_w, args.cpu_w, 0.0)
    print(f"power meter: {args.idle_w} W idle + {args.cpu_w} W per busy CPU, packages "
          f"{dict(sorted(packages.items()))} (package -> cpu), counters {counters}", flush=True)
    while not stopping:
        time.sleep(args.interval)
        now = time.monotonic()
        times = cpu_times()
        power = watts(args.idle_w, args.cpu_w, busy_cpus(last_times, times))
        joules = power * (now - last)
        last, last_times = now, times
        total_j += joules
        for package, fd in fds.items():
            counters[package], fractions[package] = advance(counters[package], fractions[package],
                                                            joules / len(fds))
            write_counter(fd, counters[package])
        write_json(status_path, {
            "pid": os.getpid(), "started": started, "updated": time.time(),
            "idle_w": args.idle_w, "cpu_w": args.cpu_w, "ncpu": times[2],
            "max_w": watts(args.idle_w, args.cpu_w, times[2]), "interval_s": args.interval,
            "energy_unit_j": ENERGY_UNIT_J,
            "files": {str(p): str(msr_path(cpu)) for p, cpu in sorted(packages.items())},
            "counters": {str(p): c for p, c in sorted(counters.items())},
            "watts": power, "joules": total_j})
    for fd in fds.values():
        os.close(fd)
    print("power meter: stopped", flush=True)
    return 0


def check(args: argparse.Namespace) -> int:
    """Healthy: the status is fresh, from a live meter with this model, and the files hold it."""
    try:
        status = json.loads(Path(args.status).read_text())
        os.kill(int(status["pid"]), 0)
    except (OSError, ValueError, KeyError) as exc:
        print(f"power meter: no live meter ({exc})", file=sys.stderr)
        return 1
    age = time.time() - float(status["updated"])
    if age > STALE_AFTER_S:
        print(f"power meter: status is {age:.1f} s old", file=sys.stderr)
        return 1
    if (status["idle_w"], status["cpu_w"]) != (args.idle_w, args.cpu_w):
        print(f"power meter: runs {status['idle_w']} W + {status['cpu_w']} W/CPU, "
              f"configured {args.idle_w} W + {args.cpu_w} W/CPU", file=sys.stderr)
        return 1
    for package, path in status["files"].items():
        try:
            st = os.lstat(path)
        except OSError as exc:
            print(f"power meter: {exc}", file=sys.stderr)
            return 1
        if not stat.S_ISREG(st.st_mode) or st.st_size < FILE_SIZE:
            print(f"power meter: {path} is not the meter's file", file=sys.stderr)
            return 1
        if package not in status["counters"]:
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "check"):
        p = sub.add_parser(name)
        p.add_argument("--status", required=True)
        p.add_argument("--idle-w", type=float, default=DEFAULT_IDLE_W)
        p.add_argument("--cpu-w", type=float, default=DEFAULT_CPU_W)
        if name == "run":
            p.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S)
    sub.add_parser("packages")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args)
    if args.command == "check":
        return check(args)
    for package, cpu in sorted(plugin_cpus(Path("/proc/cpuinfo").read_text()).items()):
        print(package, cpu, msr_path(cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
