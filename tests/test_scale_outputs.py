"""Outputs sized for 10,000 cities: report.html keeps the first REPORT_CITIES by rank and says so (on the page and
in the processing log), the tables keep every city, and the large tables are written as pandas writes them."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from smartcities.build import build, load_spec
from smartcities.io.outputs import FAST_CSV_ROWS, write_csv
from smartcities.publish import published, write_outputs
from smartcities.report.html import REPORT_CITIES

CITIES, INDICATORS = 10_000, 4


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A 10,000-city index read from one wide table, its outputs written."""
    folder = tmp_path_factory.mktemp("large")
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"code": [f"C{k:05d}" for k in range(CITIES)], "town": [f"Town {k}" for k in range(CITIES)],
                          "cc": np.array(["FR", "DE", "PL", "ES"])[np.arange(CITIES) % 4],
                          "lat": rng.uniform(36, 60, CITIES), "lon": rng.uniform(-9, 24, CITIES),
                          "pop": rng.integers(1_000, 1_000_000, CITIES)})
    for j in range(INDICATORS):
        table[f"x{j}"] = rng.lognormal(size=CITIES)
    table.to_csv(folder / "towns.csv", index=False)
    (folder / "f.yaml").write_text("id: index\nchildren:\n" + "".join(f"  - {{id: x{j}}}\n" for j in range(INDICATORS)))
    (folder / "s.yaml").write_text(f"""name: Ten thousand towns
framework: f.yaml
cities: {{file: towns.csv, format: wide, id: code, columns: {{name: town, country: cc, lat: lat, lon: lon,
          population: pop}}}}
indicators: {{file: towns.csv, format: wide, id: code, columns: [{", ".join(f"x{j}" for j in range(INDICATORS))}]}}
pipeline:
  - normalise: {{method: minmax, range: [0, 100]}}
  - aggregate: {{method: arithmetic}}
""")
    result = build(load_spec(folder / "s.yaml"), uncertainty=False)
    out = folder / "out"
    write_outputs(result, out)
    return result, out


def test_the_report_keeps_the_first_cities_by_rank_and_says_how_many(large):
    _, out = large
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('<div class="profile" id="city-') == REPORT_CITIES
    assert f"City pages for the first {REPORT_CITIES} of {CITIES} cities by rank" in page
    assert f"The ranking lists the first {REPORT_CITIES} of {CITIES} cities by rank" in page
    chapter = page[page.index('<section id="ranking"'):]
    ranked = re.findall(r'<tr><td class="num">(\d+)</td>', chapter[:chapter.index("</section>")])
    assert len(ranked) == REPORT_CITIES and ranked[0] == "1"
    assert f"rank 1 of {CITIES}" in page
    assert len(page) < 8_000_000  # plotly.js inline (4.6 MB) and 500 cities, not 10,000 (55 MB)


def test_the_processing_log_says_what_the_report_leaves_out(large):
    result, out = large
    log = pd.read_csv(out / "processing.csv")
    (row,) = log[log.action == "not-in-report"].itertuples()
    assert row.count == CITIES - REPORT_CITIES and row.severity == "note"
    assert f"first {REPORT_CITIES} of {CITIES} cities" in row.detail
    again = published(result, None, site=False)  # what the command shows on screen: the same row, nothing else
    assert again.processing.table.action.tolist()[-1:] == ["not-in-report"]
    assert "not-printed" not in set(again.processing.table.action)


def test_the_tables_keep_every_city(large):
    result, out = large
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == CITIES * (INDICATORS + 1)  # every city at every node
    assert scores[scores.node == "index"]["rank"].min() == 1 and scores.city.nunique() == CITIES
    indicators = pd.read_csv(out / "indicators.csv")
    assert len(indicators) == CITIES * INDICATORS
    raw = pd.read_csv(out.parent / "towns.csv")
    first = indicators[(indicators.city == "c00000") & (indicators.indicator == "x2")].value.item()
    assert first == raw.x2.iat[0]  # read back to the same float


def test_a_large_table_is_written_as_pandas_writes_it(tmp_path):
    rows = FAST_CSV_ROWS + 7
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"city": [f'c{k},"q"' if k % 1000 == 0 else f"c{k}" for k in range(rows)],
                          "score": rng.normal(size=rows) * 10.0 ** rng.integers(-8, 12, rows),
                          "rank": pd.array(np.where(np.arange(rows) % 97 == 0, None, np.arange(rows)), dtype="Int64"),
                          "level": np.arange(rows) % 3})
    frame.loc[::13, "score"] = np.nan
    write_csv(frame, tmp_path / "fast.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    texts = frame.assign(country=pd.array(np.where(np.arange(rows) % 5 == 0, None, "FR"), dtype="string"))
    write_csv(texts, tmp_path / "texts.csv")  # a text column with missing cells, pandas' own string type
    assert (tmp_path / "texts.csv").read_text() == texts.to_csv(index=False)
    flagged = frame.assign(kept=np.arange(rows) % 2 == 0, note="")  # booleans and empty texts: through pandas
    write_csv(flagged, tmp_path / "flagged.csv")
    assert (tmp_path / "flagged.csv").read_text() == flagged.to_csv(index=False)
