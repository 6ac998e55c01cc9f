"""Write a build's results: tidy CSVs, run.json and the report, all or nothing.

Everything goes into a fresh temporary folder beside the target and is moved into place at the end, so a
failure leaves the output folder as it was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_folder(out: str | Path):
    """Yield a temporary folder; on success its files replace those of the same name in `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield tmp
        out.mkdir(exist_ok=True)
        for item in tmp.iterdir():
            target = out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_outputs(result, out: str | Path, *, report: bool = True,
                  extra: Callable[[Path], None] | None = None) -> list[Path]:
    """scores.csv, indicators.csv, run.json, the robustness tables when present, and report.html."""
    with atomic_folder(out) as tmp:
        result.scores_table().to_csv(tmp / "scores.csv", index=False)
        result.inputs.indicators.to_csv(tmp / "indicators.csv", index=False)
        unc = result.uncertainty
        if unc is not None:
            unc.rank_intervals.to_csv(tmp / "rank_intervals.csv", index=False)
            unc.movement.to_csv(tmp / "rank_movement.csv", index=False)
            unc.sensitivity.to_csv(tmp / "sensitivity.csv", index=False)
            unc.convergence.to_csv(tmp / "sensitivity_convergence.csv", index=False)
        (tmp / "run.json").write_text(json.dumps(result.run_record(), indent=2, default=str))
        if report:
            from ..report.html import render_report

            (tmp / "report.html").write_text(render_report(result), encoding="utf-8")
        if extra is not None:
            extra(tmp)
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out) / n for n in names]
