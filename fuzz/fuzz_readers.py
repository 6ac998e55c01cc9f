"""Coverage-guided fuzzing of one reader with atheris (libFuzzer for Python).

    .venv/bin/python fuzz/fuzz_readers.py TARGET [WORK_DIR] [libFuzzer options, e.g. -max_total_time=60]

TARGET is one of the names in targets.TARGETS (inventory, cities, indicators, idata, imeta, framework_yaml,
framework_json, framework_csv, spec, code). New interesting inputs go to WORK_DIR (a fresh temporary folder when
not given), seeded from fuzz/corpus/TARGET, which is never written to. Any exception other than InputError stops
the run and leaves the input that caused it as crash-* in the current folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
with atheris.instrument_imports(include=["smartcities", "yaml"]):
    from targets import CORPUS, TARGETS, feed


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} TARGET [WORK_DIR] [libFuzzer options]; TARGET one of {', '.join(TARGETS)}")
    target, rest = sys.argv[1], sys.argv[2:]
    work = rest.pop(0) if rest and not rest[0].startswith("-") else tempfile.mkdtemp(prefix=f"fuzz-{target}-")
    atheris.Setup([sys.argv[0], *rest, work, str(CORPUS / target)], lambda data: feed(target, data))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
