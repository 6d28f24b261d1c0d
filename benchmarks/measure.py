"""Measuring a child process: its wall time and its peak memory, the highest sum of the proportional
resident memory (Pss: pages shared between processes, such as those a forked worker shares with its
parent, counted once in all) of the process and every process it started, sampled every 50 ms while it
runs, and never below the process's own high-water mark (VmHWM)."""

import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command, quiet=False):
    """Wall time (seconds) and peak resident memory (MiB) of ``command`` run from the project's root."""
    started = time.perf_counter()
    output = subprocess.DEVNULL if quiet else None
    child = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.PIPE if quiet else None)
    peak = 0
    while child.poll() is None:
        own_peak = _status(child.pid, "VmHWM")
        peak = max(peak, own_peak, sum(_pss(pid) for pid in _tree(child.pid)))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"{command[:4]} failed" + (f": {child.stderr.read().decode()}" if quiet else ""))
    return seconds, peak / 1024


def _status(pid, field):
    """A field of ``/proc/PID/status`` in KiB (0 once the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith(field)).split()[1])
    except (OSError, StopIteration, ValueError):
        return 0


def _pss(pid):
    """The process's proportional resident memory in KiB (its VmRSS where the kernel gives no Pss)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        return int(next(line for line in rollup.splitlines() if line.startswith("Pss:")).split()[1])
    except (OSError, StopIteration, ValueError):
        return _status(pid, "VmRSS")


def _tree(pid):
    """``pid`` and its descendants (from the parent of every process in ``/proc``)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found
