"""The `smartcities` process itself: the time it prints is the time it took, exit codes, exit handlers, output."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from smartcities.cli.build import DEMO_SPEC


def _run(*args: str, code: str | None = None) -> tuple[subprocess.CompletedProcess, float]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "smartcities", *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return done, time.perf_counter() - started


def test_the_printed_time_counts_the_imports_and_every_line_arrives(tmp_path):
    done, wall = _run("build", str(DEMO_SPEC), "--out", str(tmp_path / "out"), "--no-uncertainty")
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]  # piped output is flushed before the process leaves
    printed = float(re.search(r"in ([0-9.]+) s$", last).group(1))
    assert printed <= wall + 0.005
    # the build alone, timed in this process after its imports, is only part of what the command printed
    from smartcities.build import build, load_spec

    started = time.perf_counter()
    build(load_spec(DEMO_SPEC), uncertainty=False, progress=False)
    assert printed > time.perf_counter() - started
    assert (tmp_path / "out" / "scores.csv").is_file()


def test_a_user_error_exits_2_with_its_message(tmp_path):
    done, _ = _run("build", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "missing.yaml: spec file does not exist" in done.stderr
    assert not (tmp_path / "out").exists()


def test_exit_handlers_run_before_the_process_leaves():
    code = ("import atexit, sys\n"
            "from smartcities.cli import main\n"
            "atexit.register(lambda: print('handler ran'))\n"
            "sys.argv = ['smartcities', '--help']\n"
            "main()\n")
    done, _ = _run(code=code)
    assert done.returncode == 0
    assert "Build, check and publish" in done.stdout and done.stdout.rstrip().endswith("handler ran")


def test_a_crash_still_shows_its_traceback():
    code = ("import sys\n"
            "from smartcities.cli import app, main\n"
            "@app.command('boom')\n"
            "def boom():\n"
            "    raise RuntimeError('kaboom')\n"
            "sys.argv = ['smartcities', 'boom']\n"
            "main()\n")
    done, _ = _run(code=code)
    assert done.returncode == 1
    assert "RuntimeError: kaboom" in done.stderr
