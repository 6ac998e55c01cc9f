"""Publish a build: the tidy tables, run.json, the insight tables and the HTML report, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

from .build import Result
from .io.outputs import atomic_folder


def write_outputs(result: Result, out: str | Path, *, report: bool = True) -> list[Path]:
    """scores.csv, indicators.csv, processing.csv, run.json; the robustness tables when the spec asks for
    uncertainty; the trend, region, archetype and profile tables when the index has an inventory; report.html."""
    with atomic_folder(out) as tmp:
        result.scores_table().to_csv(tmp / "scores.csv", index=False)
        result.inputs.indicators.to_csv(tmp / "indicators.csv", index=False)
        result.processing.table.to_csv(tmp / "processing.csv", index=False)
        unc = result.uncertainty
        if unc is not None:
            unc.rank_intervals.to_csv(tmp / "rank_intervals.csv", index=False)
            unc.movement.to_csv(tmp / "rank_movement.csv", index=False)
            unc.sensitivity.to_csv(tmp / "sensitivity.csv", index=False)
            unc.convergence.to_csv(tmp / "sensitivity_convergence.csv", index=False)
        (tmp / "run.json").write_text(json.dumps(result.run_record(), indent=2, default=str))
        sections = {}
        if result.inputs.inventory is not None:
            from .analysis.insight import insight_of, write_insight
            from .report.insight_sections import insight_sections

            insight = insight_of(result)
            write_insight(insight, tmp)
            sections = insight_sections(result, insight)
        if report:
            from .report.html import render_report

            (tmp / "report.html").write_text(render_report(result, sections), encoding="utf-8")
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out) / n for n in names]
