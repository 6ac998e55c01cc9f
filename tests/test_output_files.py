"""Single output files (a coded inventory, a sensor map, an export) are written whole or not at all, into a folder
made when missing; a folder, or a path through a file, given as the file is a clear error. Output folders, replaced
as a whole, never hold what the command reads and get the permissions a folder made by hand would."""

from __future__ import annotations

import os
import stat

import pytest
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.io.outputs import atomic_path, write_all


def test_a_file_goes_into_a_folder_made_for_it(tmp_path):
    target = tmp_path / "new" / "deeper" / "out.csv"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("a,b\n", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "a,b\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.csv"]  # nothing staged is left


def test_a_failed_write_leaves_the_earlier_file_and_nothing_else(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("earlier", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half", encoding="utf-8")
            raise RuntimeError("stopped")
    assert target.read_text(encoding="utf-8") == "earlier" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_folder_or_a_path_through_a_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a folder; --out needs a file name"):
        with atomic_path(tmp_path):
            pass
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="a part of its folder path is a file"):
        write_all({tmp_path / "plain" / "out.csv": "a\n"})


def test_several_files_appear_together_or_not_at_all(tmp_path):
    write_all({tmp_path / "a.csv": "1\n", tmp_path / "sub" / "b.csv": "2\n"})
    assert (tmp_path / "a.csv").read_text() == "1\n" and (tmp_path / "sub" / "b.csv").read_text() == "2\n"
    with pytest.raises(InputError):
        write_all({tmp_path / "c.csv": "3\n", tmp_path: "a folder"})
    assert not (tmp_path / "c.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "sub"]


def test_commands_write_into_a_missing_folder_and_refuse_a_folder(tmp_path):
    inventory = tmp_path / "in.csv"
    inventory.write_text("name,description\nBike lanes,Protected bike lanes on the main avenues.\n", encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(app, ["code", str(inventory), "--out", str(tmp_path / "made" / "coded.csv"), "--fast"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "made" / "coded.csv").is_file()
    refused = runner.invoke(app, ["code", str(inventory), "--out", str(tmp_path / "made"), "--fast"])
    assert refused.exit_code == 2 and "is a folder; --out needs a file name" in refused.stderr


def test_the_sensor_writers_stage_their_files_the_same_way(tmp_path):
    from smartcities.sensors.export import write_json

    out = write_json({"value": [1, 2]}, tmp_path / "exports" / "things.json")
    assert out.read_text(encoding="utf-8") == '{"value": [1, 2]}'
    with pytest.raises(InputError, match="is a folder"):
        write_json({"value": []}, tmp_path / "exports")


def test_a_new_store_gets_its_folder_and_a_missing_one_to_read_is_an_error(tmp_path):
    from smartcities.sensors.store import connect
    from smartcities.store import Store

    db = connect(tmp_path / "sensors" / "city.duckdb")
    db.close()
    with Store(tmp_path / "runs" / "store.duckdb") as store:
        assert store.path.is_file()
    assert (tmp_path / "sensors" / "city.duckdb").is_file()
    with pytest.raises(InputError, match="sensor store does not exist"):
        connect(tmp_path / "elsewhere" / "none.duckdb", read_only=True)
    assert not (tmp_path / "elsewhere").exists()  # reading makes nothing


def _index(folder, indicators="indicators.csv"):
    """Three cities and two indicators; the spec names its indicators table at `indicators` (relative to it)."""
    (folder / "cities.csv").write_text("city,name\naa,Alpha\nbb,Beta\ncc,Gamma\n")
    table = folder / indicators
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text("city,indicator,value\naa,x1,10\nbb,x1,20\ncc,x1,40\naa,x2,5\nbb,x2,1\ncc,x2,3\n")
    (folder / "framework.yaml").write_text("id: index\nchildren:\n  - {id: x1}\n  - {id: x2, direction: -1}\n")
    spec = folder / "spec.yaml"
    spec.write_text(f"name: Tiny\nindicators: {indicators}\ncities: cities.csv\nframework: framework.yaml\n"
                    "pipeline:\n  - normalise: {method: minmax}\n  - aggregate: {method: arithmetic}\n")
    return spec


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_out_folder_holding_the_spec_or_an_input_is_refused_before_anything_is_built(tmp_path):
    runner = CliRunner()
    spec = _index(tmp_path, "out/indicators.csv")  # the indicators table inside the output folder
    out = tmp_path / "out"
    before = _files(tmp_path)
    for command in ("build", "publish", "audit", "insight"):
        result = runner.invoke(app, [command, str(spec), "--out", str(out)])
        assert result.exit_code == 2, (command, result.output)
        assert f"out: holds {out / 'indicators.csv'}, which the {command if command != 'publish' else 'build'} " \
               "reads" in result.stderr, result.stderr
    assert _files(tmp_path) == before
    inside = tmp_path / "copy"  # a build's folder, then the spec and its inputs copied into it
    assert runner.invoke(app, ["build", str(_index(tmp_path)), "--out", str(inside), "-q"]).exit_code == 0
    spec = _index(inside)
    before = _files(inside)
    result = runner.invoke(app, ["build", str(spec), "--out", str(inside), "--store", str(tmp_path / "runs.duckdb")])
    assert result.exit_code == 2 and f"holds {spec}, which the build reads" in result.stderr
    assert _files(inside) == before and not (tmp_path / "runs.duckdb").exists()
    store = inside / "runs.duckdb"  # a store given beside the spec: replaced with the folder, so refused too
    result = runner.invoke(app, ["build", str(_index(tmp_path)), "--out", str(inside), "--store", str(store)])
    assert result.exit_code == 2 and f"holds {store}, which the build reads" in result.stderr


def test_output_folders_get_the_permissions_of_the_umask_or_of_the_folder_they_replace(tmp_path):
    spec = _index(tmp_path)
    runner = CliRunner()
    umask = os.umask(0o022)
    try:
        assert runner.invoke(app, ["build", str(spec), "--out", str(tmp_path / "new"), "-q"]).exit_code == 0
        kept = tmp_path / "kept"
        kept.mkdir(mode=0o750)
        kept.chmod(0o750)
        assert runner.invoke(app, ["build", str(spec), "--out", str(kept), "-q"]).exit_code == 0
        assert runner.invoke(app, ["build", str(spec), "--out", str(kept), "-q"]).exit_code == 0  # rebuilt
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o755
    assert stat.S_IMODE(kept.stat().st_mode) == 0o750 and (kept / "scores.csv").is_file()
