"""NumPy's AVX2 kernels on AMD Zen 4 (whose AVX-512 sorts are microcoded), chosen before NumPy's first import,
the user's own choice kept, and a process's choice passed on to the processes it starts."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smartcities import numpy_kernels as nk

ZEN4 = """processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 17
model name	: AMD EPYC
flags		: fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni

processor	: 1
vendor_id	: AuthenticAMD
"""
ZEN3 = ZEN4.replace(" avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni", "")  # family 19h without AVX-512
ZEN5 = ZEN4.replace("cpu family	: 25", "cpu family	: 26")
XEON = ZEN4.replace("AuthenticAMD", "GenuineIntel").replace("cpu family	: 25", "cpu family	: 6")
SRC = Path(nk.__file__).resolve().parents[1]


def test_zen4_is_amd_family_19h_with_avx512_and_nothing_else():
    assert nk.zen4(ZEN4)
    assert not nk.zen4(ZEN3)
    assert not nk.zen4(ZEN5)
    assert not nk.zen4(XEON)
    assert not nk.zen4("")


def test_on_zen4_with_numpy_2_4_the_avx512_kernels_are_disabled_before_numpy_is_imported():
    assert nk.kernels_to_disable({}, ZEN4, lambda: "2.4.6", numpy_imported=False) == "X86_V4 AVX512_ICL AVX512_SPR"
    assert nk.kernels_to_disable({}, ZEN4, lambda: "2.5.0rc1", numpy_imported=False) == nk.AVX512
    # NumPy imported first: its choice stays, and is pinned (empty) for the processes this one starts
    assert nk.kernels_to_disable({}, ZEN4, lambda: "2.4.6", numpy_imported=True) == ""


def test_numpys_version_is_read_only_on_a_zen4_cpu_left_to_the_package():
    def unread():
        raise AssertionError("NumPy's version was read")

    assert nk.kernels_to_disable({}, XEON, unread, numpy_imported=False) is None
    assert nk.kernels_to_disable({"NPY_DISABLE_CPU_FEATURES": ""}, ZEN4, unread, numpy_imported=False) is None


def test_other_cpus_older_numpy_and_the_users_own_choice_are_left_alone():
    for cpu in (ZEN3, ZEN5, XEON):
        assert nk.kernels_to_disable({}, cpu, lambda: "2.4.6", numpy_imported=False) is None
    assert nk.kernels_to_disable({}, ZEN4, lambda: "1.26.4", numpy_imported=False) is None  # no AVX2 sort there
    assert nk.kernels_to_disable({}, ZEN4, lambda: "2.3.5", numpy_imported=False) is None
    assert nk.kernels_to_disable({}, ZEN4, lambda: None, numpy_imported=False) is None
    for chosen in ({"NPY_DISABLE_CPU_FEATURES": ""}, {"NPY_ENABLE_CPU_FEATURES": "X86_V3"}):
        assert nk.kernels_to_disable(chosen, ZEN4, lambda: "2.4.6", numpy_imported=False) is None


def test_release_reads_major_and_minor():
    assert nk.release("2.4.6") == (2, 4)
    assert nk.release("10.0.0.dev0+git") == (10, 0)
    assert nk.release("unknown") == (0, 0)


def test_the_installed_numpy_version_is_read_without_importing_numpy():
    assert nk.installed_numpy_version() == np.__version__


def test_choose_kernels_in_a_process_that_imported_numpy_pins_numpys_own_choice_or_leaves_all_alone():
    cpuinfo = Path("/proc/cpuinfo")
    here = cpuinfo.read_text(encoding="utf-8", errors="replace") if cpuinfo.exists() else ""
    environ: dict[str, str] = {}
    nk.choose_kernels(environ)  # NumPy is imported in this process
    linux = sys.platform == "linux"
    expected = nk.kernels_to_disable({}, here, lambda: np.__version__, numpy_imported=True) if linux else None
    assert environ == ({} if expected is None else {nk.VARIABLE: ""})
    mine = {"NPY_ENABLE_CPU_FEATURES": "X86_V3"}
    nk.choose_kernels(mine)
    assert mine == {"NPY_ENABLE_CPU_FEATURES": "X86_V3"}


def _fresh(code: str, **env: str) -> str:
    """What a new Python process importing smartcities prints, with no NumPy CPU-feature variable of its own."""
    clean = {k: v for k, v in os.environ.items() if k not in nk.USER_CHOICES}
    clean.update(PYTHONPATH=str(SRC), **env)
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True,
                          check=True).stdout.strip()


FEATURE = "from numpy._core._multiarray_umath import __cpu_features__ as f; print(f.get('X86_V4'))"


def test_a_process_that_imports_smartcities_first_runs_the_kernels_chosen_for_its_cpu():
    cpuinfo = Path("/proc/cpuinfo")
    here = cpuinfo.read_text(encoding="utf-8", errors="replace") if cpuinfo.exists() else ""
    if nk.kernels_to_disable({}, here, lambda: np.__version__, numpy_imported=False) != nk.AVX512:
        pytest.skip("not an AMD Zen 4 CPU with NumPy 2.4 or later: nothing is chosen here")
    assert _fresh(f"import smartcities, numpy; {FEATURE}") == "False"  # AVX-512 kernels off
    assert _fresh(f"import numpy, smartcities; {FEATURE}") == "True"  # NumPy first: its own choice
    assert _fresh(f"import smartcities, numpy; {FEATURE}", NPY_DISABLE_CPU_FEATURES="") == "True"
    child = ("import subprocess, sys; print(subprocess.run([sys.executable, '-c', "
             f"{FEATURE!r}], capture_output=True, text=True).stdout.strip())")
    assert _fresh(f"import smartcities; {child}") == "False"  # the processes it starts run the same kernels
    assert _fresh(f"import numpy, smartcities; {child}") == "True"
