"""Publish a build: the tidy tables, run.json, the insight tables and the HTML report, and for a published index
also the static site, the single-file dashboard and the printed report, all or nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .build import Result
from .io.outputs import atomic_folder
from .model.processing import ProcessingLog, entry

PRINT_CITY_PAGES = 200
"""At most this many city pages in report.pdf (the first cities by rank): Chromium prints about a dozen pages a
second, so a 10,000-city index would take a quarter of an hour; report.html and the site keep every city's page."""


def write_outputs(result: Result, out: str | Path, *, report: bool = True, site: bool = False,
                  browser: str | None = None) -> list[Path]:
    """scores.csv, indicators.csv, processing.csv, run.json; with editions, scores.csv of every edition (an
    `edition` column), editions.csv and edition_trends.csv, the other tables the latest edition's; the
    robustness tables when the spec asks for uncertainty; the trend, region, archetype and profile tables when
    the index has an inventory; report.html.
    With `site`: site/ and dashboard.html from the documents every face reads, and report.pdf printed from
    the report page by `browser` (a Chromium executable, or None: no PDF); the processing log written says what
    the PDF leaves out (`published`)."""
    if site:
        result = published(result, browser)
    with atomic_folder(out) as tmp:
        if result.editions is not None:  # every edition's scores, an edition column first; the editions' tables
            result.editions.scores_table().to_csv(tmp / "scores.csv", index=False)
            result.editions.changes.to_csv(tmp / "editions.csv", index=False)
            result.editions.trends.to_csv(tmp / "edition_trends.csv", index=False)
            result.editions.decomposition.to_csv(tmp / "rank_decomposition.csv", index=False)
        else:
            result.scores_table().to_csv(tmp / "scores.csv", index=False)
        result.inputs.indicators.to_csv(tmp / "indicators.csv", index=False)
        result.processing.table.to_csv(tmp / "processing.csv", index=False)
        if result.stages.weighting is not None:  # the weights a weight step set
            result.stages.weighting.table(result.context).to_csv(tmp / "weights.csv", index=False)
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

            page = tmp / "report.html"
            if browser and _cities(result) > PRINT_CITY_PAGES:  # the page to print keeps the first city pages
                page = tmp / ".report-print.html"
                page.write_text(render_report(result, sections, city_pages=PRINT_CITY_PAGES), encoding="utf-8")
            printing = Printing(page, tmp / "report.pdf", browser) if browser else None
            try:  # the browser prints while the site is written
                docs = documents(result, insight)
                write_site(docs, tmp)
                write_dashboard(docs, tmp / "dashboard.html")
            finally:
                if printing is not None:
                    printing.wait()
            if page.name != "report.html":
                page.unlink()
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out) / n for n in names]


def published(result: Result, browser: str | None) -> Result:
    """The result as it is published: its processing log adds what the printed report leaves out, report.pdf
    itself when there is no browser to print it (a warning) or the city pages beyond PRINT_CITY_PAGES (a note).
    The commands show the same rows on screen."""
    from .online.pdf import no_browser_message

    cities = _cities(result)
    if browser is None:
        row = entry("publish", "not-printed", detail=no_browser_message(), warning=True)
    elif cities > PRINT_CITY_PAGES:
        row = entry("publish", "not-printed", count=cities - PRINT_CITY_PAGES,
                    detail=f"report.pdf has city pages for the first {PRINT_CITY_PAGES} of {cities} cities by rank; "
                    "every city is in its ranking and has its page in report.html and on the site")
    else:
        return result
    return dataclasses.replace(result, processing=ProcessingLog.concat(result.processing, ProcessingLog.of([row])))


def _cities(result: Result) -> int:
    """How many cities the report ranks (and so gives a page)."""
    return int(result.kept.sum())
