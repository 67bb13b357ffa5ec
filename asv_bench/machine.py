"""What the timings ran on, for every table that reports them (peers, schedules, gate)."""

import os
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


def environment() -> dict:
    """The machine, the allocator mode and the versions of JAX and of every peer library."""
    import jax

    from asv_bench import allocator
    info = dict(python=platform.python_version(), processor=processor(),
                machine=platform.machine(),
                cpus=os.cpu_count(), jax=jax.__version__, backend=jax.default_backend(),
                device=jax.devices()[0].device_kind, allocator=allocator.mode())
    try:
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    except ImportError:
        pass
    for module in ("equinox", "flax", "spyx", "snntorch", "norse"):
        try:
            info[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001
            pass
    return info
