"""The `smartcities` command: build, validate, and how it fails on bad specs and malformed data."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from conftest import ASEM_IDATA, ASEM_IMETA, ASEM_STANDARD, asem_spec, need_shared
from typer.testing import CliRunner

from smartcities.cli import app

runner = CliRunner()


def snapshot(folder):
    """Every file under `folder` with its bytes (and the folder's own listing)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    need_shared(ASEM_STANDARD, ASEM_IDATA, ASEM_IMETA)
    out = tmp_path_factory.mktemp("cli") / "out"
    result = runner.invoke(app, ["build", str(ASEM_STANDARD), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def coinr_copy(tmp_path):
    """The ASEM pair and a spec using it, copied into tmp_path so they can be damaged."""
    asem_spec(tmp_path, "standard")
    return tmp_path


def test_build_writes_the_outputs(built):
    assert {p.name for p in built.iterdir()} == {"scores.csv", "indicators.csv", "processing.csv", "run.json",
                                                 "profiles.csv", "report.html", ".smartcities-output"}
    scores = pd.read_csv(built / "scores.csv")
    profiles = pd.read_csv(built / "profiles.csv")  # every build: each city's standing by domain, and its peers
    assert set(profiles["kind"]) == {"domain", "peer"}  # no inventory, so nothing to learn from
    assert profiles["city"].nunique() == 51 and (profiles["kind"] == "peer").sum() == 51 * 3
    assert list(scores.columns) == ["city", "node", "level", "score", "rank", "grade"]
    assert len(scores) == 51 * (49 + 8 + 2 + 1)
    index = scores[scores.node == "Index"].sort_values("rank")
    assert list(index.city[:5]) == ["CHE", "NLD", "DNK", "NOR", "BEL"]
    assert list(index["rank"][:5]) == [1, 2, 3, 4, 5]
    assert index.score.iloc[0] == pytest.approx(68.38, abs=0.005)
    assert set(scores.grade) <= {1, 2, 3, 4, 5}
    assert (scores[scores.node == "Index"].level == 4).all()


def test_run_record(built):
    run = json.loads((built / "run.json").read_text())
    hashes = run["inputs_sha256"]
    assert set(hashes) == {"idata", "imeta"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes.values())
    import hashlib

    assert hashes["idata"] == hashlib.sha256(ASEM_IDATA.read_bytes()).hexdigest()
    assert {"smartcities", "python", "numpy", "pandas", "scipy"} <= set(run["versions"])
    assert run["units"] == 51 and run["units_kept"] == 51 and run["indicators"] == 49
    assert [next(iter(s)) for s in run["steps"][:6]] == ["denominate", "impute", "screen", "treat", "normalise",
                                                         "aggregate"]
    assert re.fullmatch(r"[0-9a-f]{64}", run["spec_sha256"])


def test_report_is_self_contained(built):
    html = (built / "report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower()
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?https?://", html, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?://[^>]*stylesheet|<link[^>]*stylesheet[^>]*"
                         r"\bhref\s*=\s*[\"']?https?://", html, re.IGNORECASE)


def test_validate_ok():
    need_shared(ASEM_STANDARD)
    result = runner.invoke(app, ["validate", str(ASEM_STANDARD)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and "51 units" in result.output and "49" in result.output


def test_unknown_key_exits_2_and_writes_nothing(coinr_copy):
    spec = coinr_copy / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "grades: {methd: cutoffs}\n", encoding="utf-8")
    before = snapshot(coinr_copy)
    out = coinr_copy / "out"
    result = runner.invoke(app, ["build", str(spec), "--out", str(out)])
    assert result.exit_code == 2
    assert "did you mean 'method'" in result.stderr
    assert re.search(r"spec\.yaml line \d+: unknown key 'methd'", result.stderr)
    assert "Traceback" not in result.output
    assert not out.exists()
    assert snapshot(coinr_copy) == before
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2 and "did you mean 'method'" in result.stderr


def _damage(path, line_no: int, old: bytes, new: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    assert old in lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("old, new, expected", [
    (b",4.108538,", b',"4,108538",',
     r"iData\.csv line 3, column LPI: '4,108538' uses a decimal comma; write 4\.108538"),
    (b"Belgium", b"Belgi\xeb", r"iData\.csv line 3: byte 0xeb is not UTF-8"),
])
def test_malformed_idata_exits_2_and_keeps_the_old_output(coinr_copy, old, new, expected):
    out = coinr_copy / "out"
    assert runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(out), "--quiet"]).exit_code == 0
    _damage(coinr_copy / "iData.csv", 3, old, new)  # line 3: Belgium
    before_out, before_dir = snapshot(out), sorted(p.name for p in coinr_copy.iterdir())
    result = runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(out)])
    assert result.exit_code == 2
    assert re.search(expected, result.stderr), result.stderr
    assert result.stderr.startswith("smartcities: error: ")
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert snapshot(out) == before_out
    assert sorted(p.name for p in coinr_copy.iterdir()) == before_dir  # no temporary folder left behind
    result = runner.invoke(app, ["validate", str(coinr_copy / "spec.yaml")])
    assert result.exit_code == 2 and re.search(expected, result.stderr)


def test_method_error_at_build_time_names_the_spec(coinr_copy):
    spec = coinr_copy / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("group: EurAsia_group", "group: EurAsia_grup"),
                    encoding="utf-8")
    result = runner.invoke(app, ["build", str(spec), "--out", str(coinr_copy / "out")])
    assert result.exit_code == 2
    assert re.search(r"spec\.yaml line \d+: impute: unknown group 'EurAsia_grup'", result.stderr), result.stderr
    assert not (coinr_copy / "out").exists()


def test_missing_input_file(coinr_copy):
    (coinr_copy / "iMeta.csv").unlink()
    result = runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(coinr_copy / "out")])
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert not (coinr_copy / "out").exists()


def test_rebuild_replaces_the_whole_folder(coinr_copy):
    out = coinr_copy / "out"
    assert runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(out), "--quiet"]).exit_code == 0
    (out / "rank_intervals.csv").write_text("from an earlier build with uncertainty")
    result = runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert not (out / "rank_intervals.csv").exists()  # no earlier build's file beside the new ones
    assert {p.name for p in out.iterdir()} == {".smartcities-output", "scores.csv", "indicators.csv",
                                               "processing.csv", "run.json", "profiles.csv", "report.html"}
    assert sorted(p.name for p in coinr_copy.iterdir()) == ["iData.csv", "iMeta.csv", "out", "spec.yaml"]


def test_a_folder_of_user_files_is_refused_and_left_alone(coinr_copy):
    out = coinr_copy / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    before = snapshot(out)
    result = runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(out)])
    assert result.exit_code == 2
    assert re.search(r"mine: is a folder of other files .*give a new or empty folder", result.stderr), result.stderr
    assert snapshot(out) == before
    empty = coinr_copy / "empty"
    empty.mkdir()
    assert runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(empty), "-q"]).exit_code == 0


def test_out_naming_a_file_is_a_clear_error(coinr_copy):
    result = runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(coinr_copy / "iData.csv")])
    assert result.exit_code == 2
    assert "iData.csv: is a file; --out needs a folder" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_another_command_does_not_replace_a_build(coinr_copy):
    out = coinr_copy / "out"
    assert runner.invoke(app, ["build", str(coinr_copy / "spec.yaml"), "--out", str(out), "--quiet"]).exit_code == 0
    before = snapshot(out)
    result = runner.invoke(app, ["audit", str(coinr_copy / "spec.yaml"), "--out", str(out)])
    assert result.exit_code == 2 and "holds the outputs of a build; give the audit a folder of its own" in \
        result.stderr
    assert snapshot(out) == before


MINMAX_MEAN = "  - normalise: {method: minmax, range: [0, 100]}\n  - aggregate: {method: arithmetic}\n"


def tiny_spec(folder, pipeline=MINMAX_MEAN, extra=""):
    """Three cities, x1 higher and x2 lower is better, and a spec over them."""
    (folder / "cities.csv").write_text("city,name,country\naa,Alpha,FR\nbb,Beta,DE\ncc,Gamma,JP\n")
    (folder / "indicators.csv").write_text("city,indicator,value\naa,x1,10\nbb,x1,20\ncc,x1,40\n"
                                           "aa,x2,5\nbb,x2,1\ncc,x2,3\n")
    (folder / "framework.yaml").write_text("id: index\nchildren:\n  - {id: x1, direction: 1}\n"
                                           "  - {id: x2, direction: -1}\n")
    spec = folder / "spec.yaml"
    spec.write_text("name: Tiny\nindicators: indicators.csv\ncities: cities.csv\nframework: framework.yaml\n"
                    f"pipeline:\n{pipeline}{extra}")
    return spec


def test_counts_below_one_are_refused(tmp_path):
    spec = tiny_spec(tmp_path)
    for command in ("build", "publish"):
        result = runner.invoke(app, [command, str(spec), "--out", str(tmp_path / "out"), "--top", "-1"])
        assert result.exit_code == 2 and "Invalid value for '--top'" in result.output
    assert not (tmp_path / "out").exists()
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "out"), "--top", "0"])
    assert result.exit_code == 2 and "Invalid value for '--top'" in result.output


def test_an_unknown_backend_is_refused_and_the_one_used_is_recorded(tmp_path):
    spec = tiny_spec(tmp_path, extra="backend: {name: dask}\nuncertainty:\n  runs: 8\n  design: montecarlo\n"
                                     "  factors:\n    weights: {step: aggregate, noise: 0.25}\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(spec), "--out", str(out), "--backend", "dusk"])
    assert result.exit_code == 2 and not out.exists()
    assert "--backend: backend 'dusk' is not one of numpy, dask (did you mean 'dask'?)" in result.stderr
    result = runner.invoke(app, ["build", str(spec), "--out", str(out), "--backend", "numpy", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["spec"]["backend"]["name"] == "numpy"
