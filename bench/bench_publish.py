"""Whole-process time of `smartcities demo` and of the ASEM uncertainty build, and where it goes.

Each command runs as a fresh process, interleaved in one loop with a baseline process that only imports what
every build needs (numpy, pandas, pydantic, jinja2): the ratio says how many such start-ups a command costs.
With `--against` another installation's commands run in the same loop, side by side, so both meet the same
machine load: a virtual environment (e.g. /work/main/.venv) or a source folder holding the `smartcities`
package (e.g. an exported older commit's src, run with this interpreter); then this one's wall time over that
one's is printed. Then one in-process run splits the time into imports, build, insight,
report and files.

    .venv/bin/python bench/bench_publish.py [--repeat 5] [--against /work/main/.venv | --against OLD/src]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SHARED = Path(__file__).resolve().parents[2] / "shared"
ASEM = SHARED / "examples" / "asem-coinr-uncertainty.yaml"
IMPORTS = "import numpy, pandas, pydantic, jinja2"


def run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def breakdown(spec: Path, out: Path) -> dict[str, float]:
    """Seconds of each part of one publish, in this process (imports counted only if not yet imported)."""
    times = {}
    started = time.perf_counter()
    from smartcities.analysis.insight import insight_of, insight_tables
    from smartcities.build import build
    from smartcities.publish import write_outputs
    from smartcities.report.html import render_report
    from smartcities.report.insight_sections import insight_sections

    times["imports"] = time.perf_counter() - started
    t = time.perf_counter()
    result = build(spec)
    times["build"] = time.perf_counter() - t
    if result.inputs.inventory is not None:
        t = time.perf_counter()
        insight = insight_of(result)
        times["insight"] = time.perf_counter() - t
        t = time.perf_counter()
        insight_tables(insight)
        sections = insight_sections(result, insight)
        times["insight tables + sections"] = time.perf_counter() - t
    else:
        sections = {}
    t = time.perf_counter()
    render_report(result, sections)
    times["report"] = time.perf_counter() - t
    t = time.perf_counter()
    write_outputs(result, out)
    times["write_outputs (all of the above but the build)"] = time.perf_counter() - t
    return times


def commands(cli: list[str], out: Path) -> dict[str, list[str]]:
    """The timed commands of one installation (`cli` starts its command line), writing into `out`."""
    targets = {"smartcities demo": [*cli, "demo", "--out", str(out / "demo"), "-q"]}
    if ASEM.exists():
        targets["smartcities build asem-coinr-uncertainty"] = [*cli, "build", str(ASEM), "--out", str(out / "asem"),
                                                               "-q"]
    return targets


def other_installation(path: Path) -> tuple[list[str], dict[str, str]]:
    """How to start another installation's command line: its venv's script, or this interpreter on its source."""
    if (path / "bin" / "smartcities").exists():
        return [str(path / "bin" / "smartcities")], dict(os.environ)
    if (path / "smartcities" / "__init__.py").exists():
        return [sys.executable, "-m", "smartcities"], {**os.environ, "PYTHONPATH": str(path)}
    raise SystemExit(f"{path}: neither a virtual environment with smartcities nor a folder holding its package")


def main() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # cache bytecode as Python does by default: timed as users run it
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another installation to time side by side: a virtual "
                        "environment or a folder holding the smartcities package")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp())
    ours = commands([str(BIN / "smartcities")], out / "ours")
    theirs, env = {}, None
    if args.against:
        cli, env = other_installation(args.against)
        theirs = commands(cli, out / "theirs")
    targets = {"baseline: python -c '" + IMPORTS + "'": ([sys.executable, "-c", IMPORTS], None),
               **{name: (argv, None) for name, argv in ours.items()},
               **{f"{name} [{args.against}]": (argv, env) for name, argv in theirs.items()}}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
    for _ in range(args.repeat):
        for name, (argv, environment) in targets.items():
            samples[name].append(run_once(argv, environment))
    wall = {name: statistics.median(w for w, _ in runs) for name, runs in samples.items()}
    base = next(iter(wall.values()))
    for name, runs in samples.items():
        cpu = statistics.median(c for _, c in runs)
        spread = f"{min(w for w, _ in runs):5.2f}–{max(w for w, _ in runs):5.2f}"
        print(f"{name:60.60} wall {wall[name]:6.2f} s ({spread})  CPU {cpu:6.2f} s  "
              f"= {wall[name] / base:4.1f}× the baseline's wall")
    for name in theirs:
        there = wall[f"{name} [{args.against}]"]
        print(f"{name}: {there:.2f} s with {args.against}, {wall[name]:.2f} s here = {wall[name] / there:.2f}×")
    from smartcities.cli.build import DEMO_SPEC

    for label, spec in (("demo", DEMO_SPEC), ("ASEM uncertainty", ASEM)):
        if spec.exists():
            parts = breakdown(spec, out / f"in-process-{label.replace(' ', '-')}")
            print(f"{label} in-process: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
