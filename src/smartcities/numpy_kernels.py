"""Which of NumPy's CPU kernels a smartcities process runs: on AMD Zen 4, NumPy's AVX2 ones.

Every rank the engine gives comes from a sort, and a large build sorts hundreds of millions of values (10,000
cities under 1,000 uncertainty runs: 110 million). NumPy (2.4 and later) sorts with its AVX-512 kernels wherever a
CPU has AVX-512, and on AMD Zen 4 those kernels rely on a compress-store the CPU runs in microcode: measured on a
Zen 4 EPYC, rows of 10,000 float64 values sort in 25 ns a value with them and in 6–8 ns with NumPy's AVX2 kernels
(rows of 100,000: 39 against 8). So, before NumPy is first imported, the package asks NumPy for its AVX2 kernels on
that CPU, through NumPy's own NPY_DISABLE_CPU_FEATURES. The rest of NumPy then runs the AVX2 code most CPUs run:
float64 log and exp come from the C library, about 3× slower there (5.2 against 1.7 ns a value) and at times a
last place apart from the AVX-512 ones; the sorts gain more in every build measured (a 10,000-city Monte Carlo of
geometric means: 12.5–13.4 s against 14.9 s; arithmetic: 10.1–10.4 against 12.2–12.4).

The choice is the process's and its children's: a process that imported NumPy before smartcities keeps NumPy's
choice and pins it for the processes it starts (NPY_DISABLE_CPU_FEATURES set empty), so Dask workers always
compute with their parent's kernels. A user's own NPY_DISABLE_CPU_FEATURES or NPY_ENABLE_CPU_FEATURES, even empty,
is left as it is.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path

VARIABLE = "NPY_DISABLE_CPU_FEATURES"
USER_CHOICES = (VARIABLE, "NPY_ENABLE_CPU_FEATURES")
AVX512 = "X86_V4 AVX512_ICL AVX512_SPR"
"""NumPy's (2.4 and later) names of its AVX-512 kernel groups."""
FIRST = (2, 4)
"""The first NumPy release whose AVX2 sorts were measured faster on Zen 4 (NumPy 1.26 has none: there the
AVX-512 sort is the faster one even on Zen 4)."""


def kernels_to_disable(environ: Mapping[str, str], cpuinfo: str, numpy_version: Callable[[], str | None],
                       numpy_imported: bool) -> str | None:
    """The NPY_DISABLE_CPU_FEATURES value this process should set, or None to leave the environment alone: the
    AVX-512 groups on a Zen 4 CPU with a NumPy that has AVX2 sorts, "" (NumPy's own choice, pinned for the
    children) when NumPy was imported first; None elsewhere or when the user has chosen. NumPy's version is
    asked for (a file read at every start-up) only on a Zen 4 CPU the user left to the package."""
    if any(name in environ for name in USER_CHOICES) or not zen4(cpuinfo):
        return None
    version = numpy_version()
    if version is None or release(version) < FIRST:
        return None
    return "" if numpy_imported else AVX512


def zen4(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's text is an AMD family 19h CPU with AVX-512 (of family 19h, only Zen 4 has it)."""
    first = cpuinfo.split("\n\n", 1)[0]
    fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in first.splitlines())}
    return (fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family") == "25"
            and "avx512f" in fields.get("flags", "").split())


def release(version: str) -> tuple[int, int]:
    """(major, minor) of a version string such as "2.4.6" or "2.5.0rc1"; (0, 0) when it is not one."""
    found = re.match(r"(\d+)\.(\d+)", version)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def installed_numpy_version() -> str | None:
    """NumPy's version as its package states it, read without importing NumPy; None when it cannot be read."""
    from importlib.util import find_spec

    try:
        spec = find_spec("numpy")
        folders = spec.submodule_search_locations if spec else None
        text = (Path(next(iter(folders))) / "version.py").read_text(encoding="utf-8") if folders else ""
    except (OSError, ImportError, ValueError, StopIteration):
        return None
    found = re.search(r'^version\s*(?::\s*str\s*)?=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    return found[1] if found else None


def choose_kernels(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set NPY_DISABLE_CPU_FEATURES as `kernels_to_disable` says, on Linux (where /proc/cpuinfo tells the CPU)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            cpuinfo = file.read(65536)
    except OSError:
        return
    chosen = kernels_to_disable(environ, cpuinfo, installed_numpy_version, "numpy" in sys.modules)
    if chosen is not None:
        environ[VARIABLE] = chosen
