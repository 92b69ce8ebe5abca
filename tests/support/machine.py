"""The machine a figure was measured on: its CPU's vector flags, printed beside every benchmark's table."""

from __future__ import annotations

from pathlib import Path


def cpu_flags() -> str:
    """The CPU flags that decide a model's and an index's speed: AVX2, FMA, AVX-512 (with BF16, VNNI), AMX."""
    flags = set(Path("/proc/cpuinfo").read_text().split())
    found = sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "fma", "avx_vnni"))
    return " ".join(found) or "none of avx2, avx512, amx"
