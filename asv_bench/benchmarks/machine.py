"""What the timings ran on, for every table that reports them."""

import platform
from pathlib import Path


def processor() -> str:
    """The CPU model (`/proc/cpuinfo`'s "model name"), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
