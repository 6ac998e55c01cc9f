"""The DuckDB store: checked, atomic imports; builds reading `store:` inputs; the record of each run."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import PACKAGE_DATA
from typer.testing import CliRunner

from smartcities.build import build, load_spec
from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.store import Store

CITIES = PACKAGE_DATA / "cities" / "cities.csv"
INVENTORY = PACKAGE_DATA / "sci2022" / "inventory.csv"

FRAMEWORK = """\
id: Index
name: Test index
children:
  - id: digital
    name: Digital
    children:
      - id: broadband
        name: Broadband
  - id: green
    name: Green
    weight: 2
    children:
      - id: pm25
        name: PM2.5
        direction: -1
"""


def spec_text(name: str, cities: str, indicators: str, store: str | None = None, inventory: str | None = None,
              framework: str = "fw.yaml") -> str:
    lines = [f"name: {name}", f"cities: {cities}", f"indicators: {indicators}", f"framework: {framework}"]
    if store:
        lines.append(f"store: {store}")
    if inventory:
        lines.append(f"inventory: {inventory}")
    lines += ["pipeline:", "  - normalise: {method: minmax}", "  - aggregate: {method: arithmetic}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def workdir(tmp_path):
    """A folder with a framework, a measured-indicator table for the bundled cities, and an empty store path."""
    cities = pd.read_csv(CITIES)
    rows = []
    for i, city in enumerate(cities.city):
        rows.append((city, "broadband", 50.0 + (i * 7) % 45))
        rows.append((city, "pm25", 5.0 + (i * 11) % 30))
    pd.DataFrame(rows, columns=["city", "indicator", "value"]).to_csv(tmp_path / "indicators.csv", index=False)
    (tmp_path / "fw.yaml").write_text(FRAMEWORK, encoding="utf-8")
    return tmp_path


def contents(db: Store, table: str) -> pd.DataFrame:
    return db.db.execute(f'select * from "{table}" order by all').df()


def test_import_the_three_kinds(workdir):
    path = workdir / "store.duckdb"
    with Store(path) as db:
        assert db.import_table("cities", CITIES) == 31
        assert db.import_table("inventory", INVENTORY) == 397
        assert db.import_table("indicators", workdir / "indicators.csv", name="measured") == 62
        assert db.tables() == ["cities", "inventory", "measured"]
        imports = db.db.execute("select name, kind, rows, sha256 from imports order by name").fetchall()
    assert [(n, k, r) for n, k, r, _ in imports] == [("cities", "cities", 31), ("inventory", "inventory", 397),
                                                     ("measured", "indicators", 62)]
    assert all(len(h) == 64 for *_, h in imports)
    with Store(path, read_only=True) as db:
        cities = db.table("cities")
        inventory = db.table("inventory")
    assert list(cities.columns) == ["city", "name", "country", "region", "lat", "lon", "population"]
    assert cities.city.iloc[0] == "amsterdam" and cities.population.dtype == float
    assert len(inventory) == 397 and "city_id" in inventory.columns


def test_reimport_replaces_the_table(workdir):
    path = workdir / "store.duckdb"
    small = workdir / "small.csv"
    small.write_text("city,indicator,value\namsterdam,broadband,1.5\n", encoding="utf-8")
    with Store(path) as db:
        db.import_table("indicators", workdir / "indicators.csv")
        db.import_table("indicators", small)
        assert len(db.table("indicators")) == 1
        assert db.db.execute("select count(*) from imports where name = 'indicators'").fetchone()[0] == 1


@pytest.mark.parametrize("kind, text", [
    ("cities", "city,name,country,region,lat,lon,population\nparis,Paris,FR,Eurpoe,48.9,2.35,2100000\n"),
    ("cities", b"city,name,country,region,lat,lon,population\nz,Z\xfcrich,CH,Europe,47.4,8.5,400000\n"),
    ("indicators", 'city,indicator,value\namsterdam,broadband,"1,5"\n'),
    ("indicators", "city,indicator\n"),
    ("inventory", "id,city\nx,Paris\n"),
])
def test_a_bad_file_changes_nothing(workdir, kind, text):
    path = workdir / "store.duckdb"
    with Store(path) as db:
        db.import_table("cities", CITIES)
        db.import_table("indicators", workdir / "indicators.csv")
        db.import_table("inventory", INVENTORY)
        before = {t: contents(db, t) for t in ("cities", "indicators", "inventory", "imports")}
    bad = workdir / "bad.csv"
    bad.write_bytes(text if isinstance(text, bytes) else text.encode())
    with Store(path) as db:
        with pytest.raises(InputError):
            db.import_table(kind, bad)
        for table, frame in before.items():
            pd.testing.assert_frame_equal(contents(db, table), frame)


def test_bad_file_through_the_command_line(workdir):
    path = workdir / "store.duckdb"
    runner = CliRunner()
    ok = runner.invoke(app, ["import", "cities", str(CITIES), "--store", str(path), "--quiet"])
    assert ok.exit_code == 0, ok.output
    with Store(path, read_only=True) as db:
        before = db.table("cities")
    bad = workdir / "cities.csv"
    bad.write_text("city,name,country,region,lat,lon,population\nparis,Paris,FR,Eurpoe,48.9,2.35,2100000\n")
    result = runner.invoke(app, ["import", "cities", str(bad), "--store", str(path)])
    assert result.exit_code == 2
    assert "line 2, column region" in result.stderr and "did you mean 'Europe'" in result.stderr
    assert "Traceback" not in result.output
    with Store(path, read_only=True) as db:
        pd.testing.assert_frame_equal(db.table("cities"), before)


def test_a_failed_command_leaves_no_new_store_behind(workdir):
    runner = CliRunner()
    bad = workdir / "bad.csv"
    bad.write_text("city,indicator,value\namsterdam,broadband,abc\n")
    path = workdir / "new.duckdb"
    result = runner.invoke(app, ["import", "indicators", str(bad), "--store", str(path)])
    assert result.exit_code == 2 and "'abc' is not a number" in result.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["bad.csv", "fw.yaml", "indicators.csv"]
    result = runner.invoke(app, ["runs", "--store", str(path)])
    assert result.exit_code == 2 and "store does not exist" in result.stderr
    with pytest.raises(RuntimeError), Store(path) as db:  # any failure inside the block, a new store or not
        db.import_table("indicators", workdir / "indicators.csv")
        raise RuntimeError("stopped")
    assert not path.exists()


def test_unknown_kind_and_table(workdir):
    with Store(workdir / "store.duckdb") as db:
        with pytest.raises(InputError, match="did you mean 'cities'"):
            db.import_table("citys", CITIES)
        db.import_table("cities", CITIES)
        with pytest.raises(InputError, match="did you mean 'cities'"):
            db.table("citis")
    with pytest.raises(InputError, match="store does not exist"):
        Store(workdir / "absent.duckdb", read_only=True)


def _import_all(workdir, inventory=False):
    path = workdir / "store.duckdb"
    with Store(path) as db:
        db.import_table("cities", CITIES)
        db.import_table("indicators", workdir / "indicators.csv")
        if inventory:
            db.import_table("inventory", INVENTORY)
    return path


def test_build_reads_store_inputs(workdir):
    _import_all(workdir)
    from_store = workdir / "store.yaml"
    from_store.write_text(spec_text("from store", "store:cities", "store:indicators", store="store.duckdb"))
    from_files = workdir / "files.yaml"
    from_files.write_text(spec_text("from files", str(CITIES), "indicators.csv"))
    a, b = build(from_store), build(from_files)
    assert a.context.units == b.context.units and len(a.context.units) == 31
    assert np.allclose(a.stages.scores, b.stages.scores, equal_nan=True)
    assert set(a.inputs.hashes) == {"framework", "cities", "indicators"}
    assert a.inputs.hashes["cities"] != b.inputs.hashes["cities"]  # a table hash, not the file's


def test_store_input_needs_a_store(workdir):
    spec = workdir / "spec.yaml"
    spec.write_text(spec_text("x", "store:cities", "indicators.csv"))
    with pytest.raises(InputError, match="names no store"):
        build(spec)


def test_store_input_unknown_table(workdir):
    _import_all(workdir)
    spec = workdir / "spec.yaml"
    spec.write_text(spec_text("x", "store:citis", "indicators.csv", store="store.duckdb"))
    with pytest.raises(InputError, match="did you mean 'cities'"):
        build(spec)


def test_the_run_is_recorded(workdir):
    path = _import_all(workdir)
    spec = workdir / "store.yaml"
    spec.write_text(spec_text("recorded", "store:cities", "store:indicators", store="store.duckdb"))
    out = workdir / "out"
    result = CliRunner().invoke(app, ["build", str(spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    with Store(path, read_only=True) as db:
        runs = db.runs()
        scores = db.db.execute("select * from run_scores").df()
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run.spec_name == "recorded" and run.spec_sha256 == load_spec(spec).digest
    assert "cities" in run.inputs and "indicators" in run.inputs
    assert "scores.csv" in run.outputs and "numpy" in run.versions
    assert len(scores) == 31 * 5 and set(scores.run_id) == {run.run_id}
    written = pd.read_csv(out / "scores.csv")
    top = written[written.node == "Index"].sort_values("rank").iloc[0]
    stored = scores[(scores.node == "Index") & (scores.city == top.city)].iloc[0]
    assert stored.score == pytest.approx(top.score) and stored["rank"] == 1
    # a second build adds a second run
    assert CliRunner().invoke(app, ["build", str(spec), "--out", str(out), "--quiet"]).exit_code == 0
    with Store(path, read_only=True) as db:
        assert len(db.runs()) == 2


def test_build_reads_the_inventory_from_the_store(workdir):
    _import_all(workdir, inventory=True)
    fw = textwrap.dedent("""\
        id: Index
        name: Test index
        children:
          - id: initiatives
            name: Initiatives
            derive: {kind: count}
          - id: broadband
            name: Broadband
        """)
    (workdir / "fw_inv.yaml").write_text(fw, encoding="utf-8")
    from_store = workdir / "store.yaml"
    from_store.write_text(spec_text("s", "store:cities", "store:indicators", store="store.duckdb",
                                    inventory="store:inventory", framework="fw_inv.yaml"))
    from_files = workdir / "files.yaml"
    from_files.write_text(spec_text("f", str(CITIES), "indicators.csv", inventory=str(INVENTORY),
                                    framework="fw_inv.yaml"))
    a, b = build(from_store), build(from_files)
    assert np.allclose(a.stages.scores, b.stages.scores, equal_nan=True)
    assert set(a.inputs.hashes) == {"framework", "cities", "indicators", "inventory"}
    with Store(workdir / "store.duckdb", read_only=True) as db:
        technologies = db.table("inventory").technologies
    assert all(isinstance(v, tuple) for v in technologies)  # list cells read back as tuples, as the reader gives
