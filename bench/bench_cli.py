"""Command start-up: how long `smartcities … --help` takes as a whole process, beside the floor it cannot beat.

Each command is run as a fresh process, interleaved with baselines in the same loop: a bare Python start
(`python -c pass`), Python importing Typer and rich (what any Typer app pays before its own code runs), and a
two-command Typer app's help, whole and for one command (Typer imports pydantic to read a command's options, so
that is the floor of `smartcities CMD --help`). The
figures are medians of wall time and of CPU time (user + system, steadier on a busy machine), and the ratio says
how many Typer start-ups each command costs.

    .venv/bin/python bench/bench_cli.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
HELLO = """
from pathlib import Path
import typer
app = typer.Typer(add_completion=False)
@app.command()
def hello(out: Path = typer.Option(..., help="Where.")): pass
@app.command()
def bye(): pass
app()
"""
BASELINES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python: import typer, rich": [sys.executable, "-c", "import typer, rich.console"],
    "two-command Typer app --help": [sys.executable, "-c", HELLO, "--help"],
    "two-command Typer app hello --help": [sys.executable, "-c", HELLO, "hello", "--help"],
}
COMMANDS = ["--help", "build --help", "demo --help", "validate --help", "profile --help", "insight --help",
            "audit --help", "code --help", "agree --help", "runs --help"]


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # cache bytecode as Python does by default: timed as users run it
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    targets = {**BASELINES, **{f"smartcities {c}": [str(BIN / "smartcities"), *c.split()] for c in COMMANDS}}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
    for argv in targets.values():  # warm the file cache
        run_once(argv)
    for _ in range(args.repeat):
        for name, argv in targets.items():
            samples[name].append(run_once(argv))
    floor_cpu = statistics.median(c for _, c in samples["python: import typer, rich"])
    print(f"{'process':36} {'wall (median)':>14} {'CPU (median)':>13} {'CPU / Typer start-up':>21}")
    for name, runs in samples.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:36} {wall * 1000:11.0f} ms {cpu * 1000:10.0f} ms {cpu / floor_cpu:20.1f}×")


if __name__ == "__main__":
    main()
