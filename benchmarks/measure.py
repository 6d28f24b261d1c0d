"""Measuring a child process: its wall time and its peak resident memory (the kernel's high-water mark,
VmHWM, read while it runs)."""

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
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
            peak = max(peak, int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]))
        except (OSError, StopIteration):
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"{command[:4]} failed" + (f": {child.stderr.read().decode()}" if quiet else ""))
    return seconds, peak / 1024
