"""Publishing: `publish` and `demo` write the build's tables, site/, dashboard.html and report.pdf in one folder swap;
the PDF is A4 with contents, page X of Y, the ranking with rank intervals and one page per city; untrusted text
stays text; without Chromium everything else is written and the log says so, and --pdf makes it an error."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import EXAMPLES, PACKAGE_DATA, need_shared
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.online import pdf

pypdf = pytest.importorskip("pypdf")

runner = CliRunner()
SCRIPT, IMAGE = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
TABLES = {"scores.csv", "indicators.csv", "processing.csv", "run.json", "report.html", "rank_intervals.csv",
          "sensitivity.csv", "trends.csv", "profiles.csv"}
CHAPTERS = ["Ranking", "Domain leaders", "City profiles", "Regional summary", "Trends", "Regions", "Archetypes",
            "Learn from", "Audit", "Robustness", "Method"]


def need_chromium() -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): report.pdf is not tested")


@pytest.fixture(scope="module")
def hostile_spec(tmp_path_factory) -> Path:
    """The demo index with two of London's initiatives renamed to markup: they must stay text everywhere."""
    folder = tmp_path_factory.mktemp("hostile")
    demo = PACKAGE_DATA / "demo" / "sci2022.yaml"
    with open(PACKAGE_DATA / "sci2022" / "inventory.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    london = [r for r in rows if r["city"] == "London"]
    london[0]["name"], london[1]["name"] = SCRIPT, IMAGE
    with open(folder / "inventory.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    spec = yaml.safe_load(demo.read_text(encoding="utf-8"))
    spec.update(inventory=str(folder / "inventory.csv"), cities=str(PACKAGE_DATA / "cities" / "cities.csv"))
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return folder / "spec.yaml"


@pytest.fixture(scope="module")
def published(hostile_spec, tmp_path_factory):
    need_chromium()
    out = tmp_path_factory.mktemp("published") / "out"
    result = runner.invoke(app, ["publish", str(hostile_spec), "--out", str(out), "--pdf", "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def printed(published):
    out, _ = published
    reader = pypdf.PdfReader(out / "report.pdf")
    return reader, [page.extract_text() for page in reader.pages]


def chapter(texts: list[str], number: int, title: str) -> int:
    """The page (from 0) that chapter `number` starts on: its numbered heading, after the contents page."""
    return next(i for i, t in enumerate(texts) if i > 1 and re.search(rf"^{number} {re.escape(title)}", t, re.M))


def city_page(text: str, rank: int, name: str, of: int) -> bool:
    """Whether a page's text is the city page of `name`: its heading "rank. name" and its facts line."""
    return bool(re.search(rf"^{rank}\. {re.escape(name)} ", text, re.M)) and f"rank {rank} of {of} " in text


def test_publish_writes_tables_site_dashboard_and_pdf(published):
    out, summary = published
    names = {p.name for p in out.iterdir()}
    assert TABLES | {"site", "dashboard.html", "report.pdf", ".smartcities-output"} <= names
    assert {str(out / n) for n in ("site", "dashboard.html", "report.pdf")} <= set(summary["outputs"])
    assert (out / "site" / "index.html").is_file() and (out / "site" / "api" / "v1" / "ranking.json").is_file()
    assert len(list((out / "site" / "city").glob("*.html"))) == 31
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(out.parent.glob(".out-new-*"))  # the folder swap left nothing behind


def test_the_pdf_is_a4_with_page_x_of_y_and_contents(printed):
    reader, texts = printed
    n = len(texts)
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(595.28, abs=1)
        assert float(page.mediabox.height) == pytest.approx(841.89, abs=1)
    cover = " ".join(texts[0].split())
    assert "Smart Cities Index 2022 (sample inventory)" in cover and "page 1 of" not in cover
    assert "31 cities · 27 indicators · 8 domains" in cover
    assert all(f"page {i} of {n}" in t for i, t in enumerate(texts[1:], 2))
    contents = texts[1]
    assert contents.startswith("Smart Cities Index 2022") and "Contents" in contents
    listed = [c for c in CHAPTERS if c in contents]
    assert listed == CHAPTERS
    chapters = [chapter(texts, k, c) for k, c in enumerate(CHAPTERS, 1)]
    assert chapters == sorted(set(chapters))  # numbered in the contents' order, each from a page of its own
    assert reader.outline  # the PDF's bookmarks follow the headings


def test_the_ranking_shows_every_city_with_its_rank_interval(published, printed):
    out, _ = published
    _, texts = printed
    ranking = texts[chapter(texts, 1, "Ranking")]
    intervals = pd.read_csv(out / "rank_intervals.csv").query("node == 'index'")
    assert "90% interval" in ranking
    for row in intervals.itertuples():
        assert f"{row.p05:.0f}–{row.p95:.0f}" in ranking


def test_one_page_per_city_and_every_city_present(published, printed):
    out, _ = published
    _, texts = printed
    cities = pd.read_csv(PACKAGE_DATA / "cities" / "cities.csv").set_index("city")["name"]
    index = pd.read_csv(out / "scores.csv").query("node == 'index'")
    pages = []
    for row in index.itertuples():
        name = cities[row.city]
        found = [i for i, t in enumerate(texts) if city_page(t, row.rank, name, 31)]
        assert len(found) == 1, name
        pages.append(found[0])
    assert sorted(pages) == list(range(min(pages), min(pages) + 31))  # consecutive: each city fits its page
    london = texts[pages[list(index.city).index("london")]]
    assert "Its initiatives" in london and "Peers and gaps to the leaders" in london


def test_the_charts_are_drawn_before_printing(printed):
    _, texts = printed
    robustness = texts[chapter(texts, 10, "Robustness")]
    assert re.search(r"index: rank uncertainty over [\d,]+ runs", robustness)
    assert "median rank (5–95% interval)" in robustness
    assert "Shanghai" in robustness and "los-angeles" not in robustness  # city names, not ids


def test_untrusted_names_are_text_in_the_report_the_pdf_and_the_dashboard(published, printed):
    out, _ = published
    _, texts = printed
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report and SCRIPT not in report
    assert "&lt;img src=x onerror=alert(2)&gt;" in report and "<img src=x" not in report
    london = next(t for t in texts if city_page(t, 1, "London", 31))
    assert SCRIPT in london and IMAGE in london
    for face in (out / "dashboard.html", out / "site" / "city" / "london.html"):
        text = face.read_text(encoding="utf-8")
        assert SCRIPT not in text and "<img src=x" not in text


def test_demo_publishes_and_without_chromium_says_so_and_writes_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv(pdf.BROWSER_PATH, str(tmp_path / "no-browser-here"))
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "no Chromium was found" in result.stderr and "apt-get install chromium" in result.stderr
    names = {p.name for p in out.iterdir()}
    assert TABLES | {"site", "dashboard.html"} <= names and "report.pdf" not in names
    log = pd.read_csv(out / "processing.csv")
    row = log[log.action == "not-printed"]
    assert len(row) == 1 and row.severity.item() == "warning" and row.step.item() == "publish"
    assert "report.pdf is not written" in row.detail.item()
    run = json.loads((out / "run.json").read_text())
    assert any(s["action"] == "not-printed" for s in run["processing"]["summary"])
    assert "not-printed" in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("flag, why", [("--pdf", "--pdf requires report.pdf"),
                                       ("--strict", "--strict treats the missing report.pdf as an error")])
def test_a_required_pdf_without_chromium_is_an_error_and_changes_nothing(hostile_spec, tmp_path, monkeypatch,
                                                                         flag, why):
    monkeypatch.setenv(pdf.BROWSER_PATH, "")
    out = tmp_path / "out"
    result = runner.invoke(app, ["publish", str(hostile_spec), "--out", str(out), flag])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"smartcities: error: report.pdf: {pdf.no_browser_message()} ({why})"]
    assert not out.exists()


def test_a_failed_print_leaves_the_earlier_publication_as_it_was(hostile_spec, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv(pdf.BROWSER_PATH, "")
    assert runner.invoke(app, ["publish", str(hostile_spec), "--out", str(out), "--quiet"]).exit_code == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    broken = tmp_path / "bin" / "chromium"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\necho 'no usable display' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv(pdf.BROWSER_PATH, str(broken.parent))
    result = runner.invoke(app, ["publish", str(hostile_spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 2
    assert "could not be printed to PDF with" in result.stderr and "(exit 1: no usable display)" in result.stderr
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert not list(tmp_path.glob(".out-*"))


def test_a_failure_while_the_browser_prints_stops_the_print_at_once(hostile_spec, tmp_path, monkeypatch):
    """The report page is printed while the other files are written; when writing them fails the browser is
    stopped, not waited for, and nothing is written."""
    from smartcities.build import build
    from smartcities.errors import InputError
    from smartcities.online import site
    from smartcities.publish import write_outputs

    pid, finished = tmp_path / "browser.pid", tmp_path / "browser.finished"
    browser = tmp_path / "bin" / "chromium"
    browser.parent.mkdir()
    browser.write_text(f"#!/bin/sh\necho $$ > {pid}\nsleep 60\ntouch {finished}\n")
    browser.chmod(0o755)

    def unwritable(*args, **kwargs):
        assert pid.exists()  # printing had started before the site was written
        raise InputError.single("site", "cannot be written here")

    monkeypatch.setattr(site, "write_site", unwritable)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="cannot be written here"):
        write_outputs(build(hostile_spec), out, site=True, browser=str(browser))
    with pytest.raises(ProcessLookupError):  # the browser was killed and reaped
        os.kill(int(pid.read_text()), 0)
    assert not finished.exists() and not out.exists() and not list(tmp_path.glob(".out-*"))


def test_publish_the_asem_example(tmp_path):
    spec = EXAMPLES / "asem-coinr-uncertainty.yaml"
    need_shared(spec)
    need_chromium()
    out = tmp_path / "asem"
    result = runner.invoke(app, ["publish", str(spec), "--out", str(out), "--pdf", "--quiet"])
    assert result.exit_code == 0, result.output
    assert {"scores.csv", "rank_intervals.csv", "report.html", "site", "dashboard.html", "report.pdf"} <= {
        p.name for p in out.iterdir()}
    texts = [p.extract_text() for p in pypdf.PdfReader(out / "report.pdf").pages]
    ranking = pd.read_csv(out / "scores.csv").query("node == 'Index'")
    assert len(ranking) == 51
    names = json.loads((out / "site" / "api" / "v1" / "cities.json").read_text())
    for city in names:
        rank = int(ranking.set_index("city").loc[city["city"], "rank"])
        assert sum(city_page(t, rank, city["name"], 51) for t in texts) == 1, city


def test_a_large_index_prints_the_first_city_pages_and_notes_the_rest(hostile_spec, tmp_path, monkeypatch):
    need_chromium()
    from smartcities import publish

    monkeypatch.setattr(publish, "PRINT_CITY_PAGES", 5)
    out = tmp_path / "out"
    result = runner.invoke(app, ["publish", str(hostile_spec), "--out", str(out), "--pdf"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "note: publish not-printed 26: report.pdf has city pages for the first 5 of 31 cities" in said
    texts = [p.extract_text() for p in pypdf.PdfReader(out / "report.pdf").pages]
    index = pd.read_csv(out / "scores.csv").query("node == 'index'")
    cities = pd.read_csv(PACKAGE_DATA / "cities" / "cities.csv").set_index("city")["name"]
    paged = [r.rank for r in index.itertuples() if any(city_page(t, r.rank, cities[r.city], 31) for t in texts)]
    assert sorted(paged) == [1, 2, 3, 4, 5]
    ranking = texts[chapter(texts, 1, "Ranking")] + texts[chapter(texts, 1, "Ranking") + 1]
    assert all(cities[c] in ranking for c in index.city)  # every city still in the printed ranking
    assert "City pages for the first 5 of 31 cities by rank" in "".join(texts)
    assert (out / "report.html").read_text(encoding="utf-8").count('class="profile"') == 31
    assert not (out / ".report-print.html").exists()
    log = pd.read_csv(out / "processing.csv").query("action == 'not-printed'")
    assert log["count"].tolist() == [26] and log.severity.tolist() == ["note"]


PRINT_WIDTHS = """
import json, sys
from playwright.sync_api import sync_playwright
args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
    page = browser.new_page(viewport={"width": 672, "height": 980})
    page.emulate_media(media="print")
    page.goto(sys.argv[1])
    print(json.dumps({"page": page.evaluate("document.documentElement.scrollWidth"), "charts": page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')].map(c => c.layout.width)")}))
    browser.close()
"""


def test_in_print_nothing_is_wider_than_the_page(published):
    """Chromium shrinks every page of a print whose content is wider than the paper: the layout must fit A4's text
    width (210 mm less 2 × 16 mm margins, 672 CSS px) so the type prints at its size. (In a process of its own: the
    browser tests may hold Playwright's loop in this one.)"""
    out, _ = published
    pytest.importorskip("playwright.sync_api")
    done = subprocess.run([sys.executable, "-c", PRINT_WIDTHS, (out / "report.html").as_uri() + "#print"],
                          capture_output=True, text=True, timeout=300, check=True)
    widths = json.loads(done.stdout)
    assert widths["page"] == 672
    assert widths["charts"] and set(widths["charts"]) == {640}


READER_PRINT = """
import json, sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(sys.argv[1])
    widths = "[...document.querySelectorAll('.js-plotly-plot')].map(c => c._fullLayout.width)"
    seen = {"screen": page.evaluate(widths)}
    page.evaluate("dispatchEvent(new Event('beforeprint'))")
    seen["print"] = page.evaluate(widths)
    seen["open"] = page.evaluate("document.querySelectorAll('details:not([open])').length")
    page.evaluate("dispatchEvent(new Event('afterprint'))")
    seen["after"] = page.evaluate(widths)
    seen["closed"] = page.evaluate("document.querySelectorAll('details:not([open])').length")
    seen["traces"] = page.evaluate("[...document.querySelectorAll('.js-plotly-plot')].flatMap("
                                   "c => c._fullData.map(t => t.type))")
    print(json.dumps(seen))
    browser.close()
"""


def test_a_readers_print_sizes_the_charts_for_paper_and_puts_them_back(published):
    """Opened without #print (a reader printing from the browser), each chart takes its print width for the print
    and its screen width after; every chart the report draws is a trace type of the bundle it inlines."""
    from smartcities.report.plotly_html import CARTESIAN_TRACES

    out, _ = published
    pytest.importorskip("playwright.sync_api")
    done = subprocess.run([sys.executable, "-c", READER_PRINT, (out / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=300, check=True)
    seen = json.loads(done.stdout)
    assert seen["screen"] and set(seen["print"]) == {640} and set(seen["screen"]) != {640}
    assert seen["after"] == seen["screen"] and seen["open"] == 0 and seen["closed"] > 0
    assert set(seen["traces"]) <= CARTESIAN_TRACES and {"bar", "heatmap", "scatter"} <= set(seen["traces"])
    assert "plotly.js (cartesian - minified) v" in (out / "report.html").read_text(encoding="utf-8")[:2000]
