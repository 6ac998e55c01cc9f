"""The Montréal example (docs/montreal) end to end, through the commands its README gives: the bicycle counters'
three layouts imported, checked, turned into district indicators by its rules, built as editions 2018 and 2019
with the counters' level shift declared as a break, and mapped."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from smartcities.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "montreal"
IMPORTS = [  # (files, adapter), as in the README
    (["comptagevelo2014.csv"], "adapter-daily-iso.yaml"),
    (["comptagevelo20152.csv", "comptagevelo20162.csv", "comptagevelo2017.csv", "comptage_velo_2018.csv"],
     "adapter-daily-dmy.yaml"),
    (["comptage_velo_2019.csv"], "adapter-15min.yaml"),
]
BERRI1 = "100003032"
runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def july_repeats() -> int:
    """Values of the 2019 file's repeated rows (July 2019 appears twice), counted with the csv module."""
    seen, repeated = set(), 0
    with (EXAMPLE / "comptage_velo_2019.csv").open(encoding="utf-8") as handle:
        for row in list(csv.reader(handle))[1:]:
            if row[0] in seen:
                repeated += sum(value != "" for value in row[1:])
            seen.add(row[0])
    return repeated


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example folder copied without a store, the three imports and qc run into it, the spec built."""
    folder = tmp_path_factory.mktemp("montreal") / "montreal"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.wal"))
    store = str(folder / "montreal.duckdb")
    imported = [invoke("sensors", "import", *[str(folder / f) for f in files], "--store", store,
                       "--adapter", str(folder / adapter)) for files, adapter in IMPORTS]
    qc = invoke("sensors", "qc", "--store", store)
    build = invoke("build", str(folder / "montreal.yaml"), "--out", str(folder / "out"))
    return folder, imported, qc, build


def counts(message: str) -> tuple[int, int]:
    found = re.search(r"(\d+) observations added, (\d+) duplicates skipped", message)
    return int(found[1]), int(found[2])


def test_the_imports_store_every_value_once_and_skip_july_2019_repeated(example):
    folder, imported, _, _ = example
    assert [counts(message) for message in imported] == [(6254, 0), (27588, 0), (1019190, 72319)]
    assert july_repeats() == 72319  # the 2,976 repeated rows hold 72,319 values
    with duckdb.connect(str(folder / "montreal.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from observations").fetchone()[0] == 6254 + 27588 + 1019190
        assert db.execute("select count(*) from things").fetchone()[0] == 42
        totals = dict(db.execute("""select year(time), sum(value) from observations join datastreams
            using (datastream_id) where thing_id = ? group by 1""", [BERRI1]).fetchall())
    assert totals[2016] == 988595 and totals[2018] == 948086 and totals[2019] == 587748  # PROVENANCE.md's sums


def test_every_legacy_name_maps_to_a_counter_of_the_table(example):
    folder = example[0]
    with (folder / "localisation_des_compteurs_velo.csv").open(encoding="utf-8") as handle:
        ids = {row["ID"] for row in csv.DictReader(handle)}
    for files, adapter in IMPORTS:
        spec = yaml.safe_load((folder / adapter).read_text(encoding="utf-8"))
        assert set(spec["aliases"].values()) <= ids and set(spec["locations"]) == ids
        for name in files:
            header = (folder / name).read_text(encoding="utf-8").splitlines()[0].split(",")
            assert {column for column in header[1:] if column} <= set(spec["aliases"]), name


def test_qc_reports_its_flags(example):
    assert re.search(r"flags: out-of-range 0, spike \d+, stuck \d+, duplicate 0, gap \d+", example[2])


def test_the_build_ranks_the_districts_with_counters_and_leaves_the_others_unranked(example):
    folder = example[0]
    editions = pd.read_csv(folder / "out" / "editions.csv", dtype={"city": str})
    index = editions[editions["node"] == "index"]
    ranked = {year: set(group["city"]) for year, group in index.groupby("edition")}
    assert len(ranked[2018]) == 7 and len(ranked[2019]) == 13 and ranked[2018] < ranked[2019]
    top = index[index["rank"] == 1].set_index("edition")["city"]
    assert top[2018] == top[2019] == "5"  # Le Plateau-Mont-Royal
    log = pd.read_csv(folder / "out" / "processing.csv", dtype={"unit": str})
    no_data = log[log["action"] == "no-data"]
    assert (no_data["severity"] == "warning").all() and "not ranked" in no_data["detail"].iloc[0]
    districts = set(pd.read_csv(folder / "cities.csv", dtype={"city": str})["city"])
    assert len(districts) == 34
    for year in (2018, 2019):
        assert set(no_data[no_data["step"] == f"inputs [{year}]"]["unit"]) == districts - ranked[year]
    sensed = pd.read_csv(folder / "out" / "indicators.csv", dtype={"city": str}).set_index(["city", "indicator"])
    assert sensed.loc[("5", "bikes_counted"), "value"] == pytest.approx(4422922)


def test_each_editions_sensor_note_counts_its_own_values(example):
    folder = example[0]
    log = pd.read_csv(folder / "out" / "processing.csv")
    sensed = log[log["action"] == "sensor-indicators"].set_index(["step", "indicator"])["count"]
    assert sensed.to_dict() == {("sensors [2018]", "bikes_counted"): 7, ("sensors [2018]", "bikes_per_km2"): 7,
                                ("sensors [2019]", "bikes_counted"): 13, ("sensors [2019]", "bikes_per_km2"): 13}
    summary = json.loads((folder / "out" / "run.json").read_text())["processing"]["summary"]
    assert sum(s["count"] for s in summary if s["action"] == "sensor-indicators") == 2 * (7 + 13)


def test_the_level_shift_is_flagged_as_a_break(example):
    folder = example[0]
    trends = pd.read_csv(folder / "out" / "edition_trends.csv", dtype={"city": str})
    both = trends[trends["editions_used"] == 2]
    assert len(both) == 3 * 7 and trends.loc[trends["editions_used"] == 1, "across_break"].isna().all()
    crossed = both.groupby("node")["across_break"].agg(set).to_dict()
    assert crossed == {"bikes_counted": {"bikes_counted@2019"}, "bikes_per_km2": {"bikes_per_km2@2019"},
                       "index": {"bikes_counted@2019;bikes_per_km2@2019"}}
    log = pd.read_csv(folder / "out" / "processing.csv")
    crossing = log[log["action"] == "trend-across-break"]
    assert len(crossing) == 4 and crossing["detail"].str.contains("Berri1").any()


def test_the_network_rules_count_counters_per_district_and_their_uptime(example, tmp_path):
    folder = example[0]
    out = tmp_path / "network.csv"
    invoke("sensors", "indicators", str(folder / "network-rules.yaml"), "--store", str(folder / "montreal.duckdb"),
           "--out", str(out))
    table = pd.read_csv(out, dtype={"city": str})
    values = table.set_index(["city", "indicator"])["value"]
    assert table.groupby("indicator").size().to_dict() == {"counters": 34, "counters_per_km2": 34, "uptime": 13}
    assert table[table["indicator"] == "counters"]["value"].sum() == 42
    assert values[("5", "counters")] == 10 and values[("5", "counters_per_km2")] == pytest.approx(10 / 8.152, 1e-3)
    assert values[("5", "uptime")] == pytest.approx(0.864, abs=1e-3)


def test_the_map_draws_the_districts_counters_and_network(example, tmp_path):
    folder = example[0]
    out = tmp_path / "map.html"
    message = invoke("sensors", "map", "--store", str(folder / "montreal.duckdb"), "--rules",
                     str(folder / "rules.yaml"), "--network", str(folder / "reseau_cyclable_simplified.geojson"),
                     "--out", str(out))
    assert "42 sensors, 34 districts, 2 periods of bikes_counted" in message
    assert out.stat().st_size < 5_000_000
    assert "Rachel 3 (Angus)" in out.read_text(encoding="utf-8")  # a counter is shown by the name the city gives it


def test_the_example_stays_small_and_keeps_the_city_files_whole():
    shipped = [p for p in EXAMPLE.iterdir() if p.is_file() and p.suffix != ".duckdb"]
    assert sum(p.stat().st_size for p in shipped) < 6_000_000
    assert (EXAMPLE / "comptage_velo_2018.csv").stat().st_size == 40010
    assert (EXAMPLE / "comptage_velo_2019.csv").stat().st_size == 3912454
    assert "Source: Ville de Montréal, données ouvertes (CC BY 4.0)" in (EXAMPLE / "PROVENANCE.md").read_text()
