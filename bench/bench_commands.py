"""Whole commands as a user runs them: `smartcities demo` and `smartcities build` of the ASEM uncertainty example
(3,000 runs, report included), each a fresh process from start to exit.

With `--against SRC` (another checkout's `src` folder) the same commands run on that code in the same loop, the
two sides alternating run by run, so a busy machine slows both alike; each line gives the medians of wall time
and of CPU time (user + system) and the ratio of the other side's median wall time to this one's.

    .venv/bin/python bench/bench_commands.py [--repeat 7] [--against /tmp/base/src]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
UNCERTAINTY = HERE.parent / "shared" / "examples" / "asem-coinr-uncertainty.yaml"


def commands(out: Path) -> dict[str, list[str]]:
    found = {"demo": ["demo", "--out", str(out / "demo"), "-q"]}
    if UNCERTAINTY.exists():
        found["build asem-coinr-uncertainty"] = ["build", str(UNCERTAINTY), "--out", str(out / "unc"), "-q"]
    return found


def run_once(args: list[str], src: str) -> tuple[float, float]:
    """Wall and CPU seconds of `python -m smartcities ARGS` with the package taken from `src`."""
    env = {**os.environ, "PYTHONPATH": src}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "smartcities", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"smartcities {' '.join(args)} failed (from {src})")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # cache bytecode as Python does by default: timed as users run it
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--against", help="another checkout's src folder, run in the same loop")
    args = parser.parse_args()
    sides = {"this": str(HERE / "src")}
    if args.against:
        sides["other"] = str(Path(args.against).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        out = {side: Path(tmp) / side for side in sides}
        todo = {name: {side: commands(out[side])[name] for side in sides} for name in commands(Path(tmp))}
        samples = {(name, side): [] for name in todo for side in sides}
        for by_side in todo.values():  # warm the file cache and the compiled templates
            for side, argv in by_side.items():
                run_once(argv, sides[side])
        for _ in range(args.repeat):
            for name, by_side in todo.items():
                for side, argv in by_side.items():
                    samples[name, side].append(run_once(argv, sides[side]))
    print(f"whole commands, median of {args.repeat} runs" + (f"; this checkout vs {sides['other']}"
                                                             if args.against else ""))
    for name in todo:
        wall = {side: statistics.median(w for w, _ in samples[name, side]) for side in sides}
        cpu = {side: statistics.median(c for _, c in samples[name, side]) for side in sides}
        line = f"  {name:30} {wall['this']:6.2f} s wall {cpu['this']:6.2f} s CPU"
        if args.against:
            line += (f"   vs {wall['other']:6.2f} s wall {cpu['other']:6.2f} s CPU"
                     f"  ({wall['other'] / wall['this']:.2f}× faster)")
        print(line)


if __name__ == "__main__":
    main()
