"""Publish a build: the tidy tables, run.json, the insight tables and the HTML report, and for a published index
also the static site, the single-file dashboard and the printed report, all or nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .build import Result
from .io.outputs import atomic_folder
from .model.processing import ProcessingLog, entry


def write_outputs(result: Result, out: str | Path, *, report: bool = True, site: bool = False,
                  browser: str | None = None) -> list[Path]:
    """scores.csv, indicators.csv, processing.csv, run.json; the robustness tables when the spec asks for
    uncertainty; the trend, region, archetype and profile tables when the index has an inventory; report.html.
    With `site`: site/ and dashboard.html from the documents every face reads, and report.pdf printed from
    report.html by `browser` (a Chromium executable; None prints nothing: see `without_pdf`)."""
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
        sections, insight = {}, None
        if result.inputs.inventory is not None:
            from .analysis.insight import insight_of, write_insight
            from .report.insight_sections import insight_sections

            insight = insight_of(result)
            write_insight(insight, tmp)
            sections = insight_sections(result, insight)
        if report or site:
            from .report.html import render_report

            (tmp / "report.html").write_text(render_report(result, sections), encoding="utf-8")
        if site:
            from .online.bundle import documents
            from .online.pdf import Printing
            from .online.site import write_dashboard, write_site

            printing = Printing(tmp / "report.html", tmp / "report.pdf", browser) if browser else None
            try:  # the browser prints while the site is written
                docs = documents(result, insight)
                write_site(docs, tmp)
                write_dashboard(docs, tmp / "dashboard.html")
            finally:
                if printing is not None:
                    printing.wait()
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out) / n for n in names]


def without_pdf(result: Result, reason: str) -> Result:
    """The result with a warning in its processing log that report.pdf was not printed, and why: so the screen,
    processing.csv, run.json and the report all say so."""
    row = entry("publish", "not-printed", detail=reason, warning=True)
    return dataclasses.replace(result, processing=ProcessingLog.concat(result.processing, ProcessingLog.of([row])))
