"""Publish a build: the tidy tables, run.json, the insight tables and the HTML report, and for a published index
also the static site, the single-file dashboard and the printed report, all or nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .build import Result
from .io.outputs import atomic_folder, write_csv
from .model.processing import ProcessingLog, entry

if TYPE_CHECKING:
    from .analysis.insight import Insight
    from .online.pdf import Printing

PRINT_CITY_PAGES = 200
"""At most this many city pages in report.pdf (the first cities by rank): Chromium prints about a dozen pages a
second, so a 10,000-city index would take a quarter of an hour; the site keeps every city's page (report.html the
first REPORT_CITIES)."""


def write_outputs(result: Result, out: str | Path, *, report: bool = True, site: bool = False,
                  browser: str | None = None) -> list[Path]:
    """scores.csv, indicators.csv, processing.csv, run.json; with editions, scores.csv of every edition (an
    `edition` column), editions.csv and edition_trends.csv, the other tables the latest edition's; the
    robustness tables when the spec asks for uncertainty; profiles.csv; the trend, region and archetype tables
    when the index has an inventory; report.html.
    With `site`: site/ and dashboard.html from the documents every face reads, and report.pdf printed from
    the report page by `browser` (a Chromium executable, or None: no PDF); the processing log written says what
    the PDF leaves out (`published`). The report page is written first, so the browser prints while every other
    file is written."""
    from .analysis.insight import insight_of

    if report or site:
        result = published(result, browser, site=site)
    with atomic_folder(out, reads=result.spec.files) as tmp:
        insight = insight_of(result)  # the profiles always; trends, regions and archetypes with an inventory
        printing = _report(result, insight, tmp, browser if site else None) if report or site else None
        try:
            _tables(result, insight, tmp)
            if site:
                from .online.bundle import documents
                from .online.site import write_dashboard, write_site

                docs = documents(result, insight)
                write_site(docs, tmp)
                write_dashboard(docs, tmp / "dashboard.html")
        except BaseException:  # the folder is not swapped in: no reason to wait for the PDF
            if printing is not None:
                printing.cancel()
            raise
        if printing is not None:
            printing.wait()
        (tmp / PRINT_PAGE).unlink(missing_ok=True)
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out) / n for n in names]


PRINT_PAGE = ".report-print.html"
"""The page printed instead of report.html when the PDF keeps fewer city pages than the report has."""


def _report(result: Result, insight: Insight, tmp: Path, browser: str | None) -> Printing | None:
    """report.html, and with a `browser` its printing to report.pdf started (the `Printing` under way)."""
    from .report.html import render_report
    from .report.insight_sections import insight_sections

    sections = insight_sections(result, insight)
    page = tmp / "report.html"
    page.write_text(render_report(result, sections), encoding="utf-8")
    if browser is None:
        return None
    from .online.pdf import Printing

    if _cities(result) > PRINT_CITY_PAGES:  # the page to print keeps the first city pages
        page = tmp / PRINT_PAGE
        page.write_text(render_report(result, sections, city_pages=PRINT_CITY_PAGES), encoding="utf-8")
    return Printing(page, tmp / "report.pdf", browser)


def _tables(result: Result, insight: Insight, tmp: Path) -> None:
    """Every table of the build, run.json and the insight tables."""
    from .analysis.insight import write_insight

    if result.editions is not None:  # every edition's scores, an edition column first; the editions' tables
        write_csv(result.editions.scores_table(), tmp / "scores.csv")
        result.editions.changes.to_csv(tmp / "editions.csv", index=False)
        result.editions.trends.to_csv(tmp / "edition_trends.csv", index=False)
        result.editions.decomposition.to_csv(tmp / "rank_decomposition.csv", index=False)
    else:
        write_csv(result.scores_table(), tmp / "scores.csv")
    write_csv(result.inputs.indicators, tmp / "indicators.csv")
    result.processing.table.to_csv(tmp / "processing.csv", index=False)
    if result.stages.weighting is not None:  # the weights a weight step set
        result.stages.weighting.table(result.context).to_csv(tmp / "weights.csv", index=False)
    unc = result.uncertainty
    if unc is not None:
        write_csv(unc.rank_intervals, tmp / "rank_intervals.csv")
        unc.movement.to_csv(tmp / "rank_movement.csv", index=False)
        unc.sensitivity.to_csv(tmp / "sensitivity.csv", index=False)
        unc.convergence.to_csv(tmp / "sensitivity_convergence.csv", index=False)
    (tmp / "run.json").write_text(json.dumps(result.run_record(), indent=2, default=str))
    write_insight(insight, tmp)


def published(result: Result, browser: str | None, site: bool = True) -> Result:
    """The result as it is published: its processing log adds what report.html leaves out (the cities beyond
    REPORT_CITIES, a note) and, with `site`, what the printed report leaves out, report.pdf itself when there is
    no browser to print it (a warning) or the city pages beyond PRINT_CITY_PAGES (a note). The commands show the
    same rows on screen."""
    from .online.pdf import no_browser_message
    from .report.html import REPORT_CITIES

    cities = _cities(result)
    rows = []
    if cities > REPORT_CITIES:
        rows.append(entry("publish", "not-in-report", count=cities - REPORT_CITIES,
                          detail=f"report.html lists the first {REPORT_CITIES} of {cities} cities by rank in its "
                          "ranking and city pages; scores.csv ranks every city and the site has a page for each"))
    if site and browser is None:
        rows.append(entry("publish", "not-printed", detail=no_browser_message(), warning=True))
    elif site and cities > PRINT_CITY_PAGES:
        rows.append(entry("publish", "not-printed", count=cities - PRINT_CITY_PAGES,
                          detail=f"report.pdf has city pages for the first {PRINT_CITY_PAGES} of {cities} cities by "
                          "rank; every city is in scores.csv and has its page on the site"))
    if not rows:
        return result
    return dataclasses.replace(result, processing=ProcessingLog.concat(result.processing, ProcessingLog.of(rows)))


def _cities(result: Result) -> int:
    """How many cities the report ranks (and so gives a page)."""
    return int(result.kept.sum())
