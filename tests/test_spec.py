"""The index spec is checked before anything runs; every problem names the spec file and its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import ASEM_GEOMETRIC, ASEM_STANDARD, EXAMPLES, need_shared

from smartcities.build import load_spec
from smartcities.errors import InputError

GOOD = """\
name: Test index
framework: fw.yaml
pipeline:
  - treat: {method: winsorise, max_points: 3}
  - normalise: {method: minmax, range: [0, 100]}
  - aggregate: {method: arithmetic}
"""


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_spec(path)
    return path, err.value.problems


def test_good_spec(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.model.name == "Test index"
    assert [next(iter(e)) for e in spec.model.pipeline] == ["treat", "normalise", "aggregate"]
    assert spec.line("pipeline", 1, "normalise") == 5
    assert spec.line("pipeline", 1, "normalise", "nothing-here") == 5  # falls back to the nearest key
    assert spec.resolve("fw.yaml") == tmp_path / "fw.yaml"
    assert len(spec.digest) == 64


def test_unknown_top_key_with_suggestion_and_line(tmp_path):
    path, found = problems(tmp_path, GOOD + "descripton: oops\n")
    (p,) = found
    assert p.file == str(path) and p.line == 7
    assert "unknown key 'descripton' (did you mean 'description'?)" in p.message
    assert f"{path} line 7: unknown key 'descripton'" in str(p)


@pytest.mark.parametrize("shipped, what", [
    ("montreal/framework.yaml", "is a framework tree (a spec names it as `framework:`)"),
    ("montreal/rules.yaml", "is a sensor rules file"),
    ("montreal/adapter-15min.yaml", "is a sensor adapter (`smartcities sensors import --adapter` reads it)"),
])
def test_another_of_the_projects_files_given_as_a_spec_is_named(shipped, what):
    """The example's own files, given where the spec goes: said what they are, not a list of unknown keys."""
    path = Path(__file__).resolve().parents[1] / "docs" / shipped
    with pytest.raises(InputError) as err:
        load_spec(path)
    (p,) = err.value.problems
    assert p.file == str(path) and p.message.startswith(what) and "not an index spec" in p.message


def test_unknown_nested_keys(tmp_path):
    _, found = problems(tmp_path, GOOD + "grades: {methd: cutoffs}\nbackend:\n  nme: dask\n")
    messages = {p.line: p.message for p in found}
    assert "did you mean 'method'" in messages[7]
    assert "did you mean 'name'" in messages[9]


def test_unknown_key_in_coinr_data(tmp_path):
    text = """\
    name: x
    data:
      format: coinr
      idata: a.csv
      imeta: b.csv
      imeat: c.csv
    pipeline:
      - aggregate: {}
    """
    _, (p,) = problems(tmp_path, text)
    assert p.line == 6 and "did you mean 'imeta'" in p.message


def test_unknown_step(tmp_path):
    _, (p,) = problems(tmp_path, GOOD.replace("  - normalise:", "  - normalize:"))
    assert p.line == 5
    assert "pipeline step 'normalize' is not one of" in p.message and "did you mean 'normalise'" in p.message


def test_unknown_method(tmp_path):
    _, (p,) = problems(tmp_path, GOOD.replace("method: minmax", "method: minmx"))
    assert p.line == 5 and "normalise: method 'minmx'" in p.message and "did you mean 'minmax'" in p.message


def test_unknown_parameter(tmp_path):
    text = GOOD.replace("  - treat: {method: winsorise, max_points: 3}",
                        "  - treat:\n      method: winsorise\n      max_point: 3")
    _, (p,) = problems(tmp_path, text)
    assert p.line == 6
    assert "treat: unknown parameter 'max_point' (did you mean 'max_points'?)" in p.message


def test_parameter_of_the_wrong_type(tmp_path):
    text = GOOD.replace("  - treat: {method: winsorise, max_points: 3}",
                        "  - treat:\n      method: winsorise\n      max_points: many")
    _, (p,) = problems(tmp_path, text)
    assert p.line == 6 and "max_points" in p.message and "'many'" in p.message
    _, (p,) = problems(tmp_path, GOOD.replace("{method: arithmetic}", "{method: arithmetic, min_share: lots}"))
    assert p.line == 6 and "min_share" in p.message


@pytest.mark.parametrize("step, expected", [
    ("normalise: {method: minmax, range: [100, 0]}", "normalise: range: must be [low, high] with low below high "
                                                     "(got [100, 0])"),
    ("normalise: {method: minmax, range: [5, 5]}", "normalise: range: must be [low, high] with low below high"),
    ("normalise: {method: zscore, sd: 0}", "normalise: sd: Input should be greater than 0 (got 0)"),
    ("normalise: {method: goalposts, scale: -100}", "normalise: scale: Input should be greater than 0"),
    ("screen: {min_coverage: 1.5}", "screen: min_coverage: Input should be less than or equal to 1 (got 1.5)"),
    ("screen: {min_indicator_coverage: -0.5}", "screen: min_indicator_coverage: Input should be greater than or "
                                               "equal to 0 (got -0.5)"),
    ("treat: {method: winsorise, max_points: -1}", "treat: max_points: Input should be greater than or equal to 1"),
    ("treat: {method: winsorise, max_points: 2.5}", "treat: max_points: Input should be a valid integer"),
    ("treat: {method: winsorise, skew: -2}", "treat: skew: Input should be greater than 0 (got -2)"),
    ("treat: {method: boxcox, kurtosis: 0}", "treat: kurtosis: Input should be greater than 0 (got 0)"),
])
def test_parameters_out_of_range_are_located(tmp_path, step, expected):
    _, (p,) = problems(tmp_path, GOOD.replace("treat: {method: winsorise, max_points: 3}", step))
    assert p.line == 4 and expected in p.message


def test_a_factor_value_out_of_range_is_refused(tmp_path):
    fw = tmp_path / "fw.yaml"
    fw.write_text("id: index\nchildren:\n  - {id: x1, direction: 1}\n  - {id: x2, direction: 1}\n")
    (tmp_path / "indicators.csv").write_text("city,indicator,value\naa,x1,1\nbb,x1,2\naa,x2,3\nbb,x2,4\n")
    (tmp_path / "cities.csv").write_text("city,name,country\naa,Alpha,FR\nbb,Beta,DE\n")
    spec = write(tmp_path, GOOD + "indicators: indicators.csv\ncities: cities.csv\nuncertainty:\n  factors:\n"
                                  "    treatment: {step: treat, parameter: max_points, values: [0, 3]}\n")
    from smartcities.build import check
    from smartcities.inputs import load_inputs

    loaded = load_spec(spec)
    with pytest.raises(InputError, match="max_points: Input should be greater than or equal to 1 .got 0.") as err:
        check(loaded, load_inputs(loaded))
    assert err.value.problems[0].line == 11


def test_a_grades_parameter_of_the_other_method_is_refused(tmp_path):
    path, (p,) = problems(tmp_path, GOOD + "grades:\n  method: cutoffs\n  n: 3\n")
    assert str(p) == f"{path} line 9: grades.n: Value error, n is a parameter of method quantile, not of cutoffs; " \
                     "remove it"
    _, (p,) = problems(tmp_path, GOOD + "grades: {cutoffs: [50]}\n")
    assert "cutoffs is a parameter of method cutoffs, not of quantile" in p.message
    assert load_spec(write(tmp_path, GOOD + "grades: {method: cutoffs, cutoffs: [50]}\n")).model.grades.cutoffs == [50]


def test_missing_parameter(tmp_path):
    _, (p,) = problems(tmp_path, GOOD.replace("  - treat: {method: winsorise, max_points: 3}",
                                              "  - impute: {method: group-mean}"))
    assert p.line == 4 and "missing parameter 'group'" in p.message


def test_every_problem_at_once(tmp_path):
    text = GOOD.replace("max_points: 3", "max_pints: 3").replace("minmax", "minmx") + "nmae: x\n"
    _, found = problems(tmp_path, text)
    # the unknown top-level key is a model error and is reported before the pipeline is looked at
    assert len(found) == 1 and "nmae" in found[0].message
    _, found = problems(tmp_path, GOOD.replace("max_points: 3", "max_pints: 3").replace("minmax", "minmx"))
    assert [p.line for p in found] == [4, 5]


def test_pipeline_without_aggregate(tmp_path):
    _, (p,) = problems(tmp_path, GOOD.replace("  - aggregate: {method: arithmetic}\n", ""))
    assert "no aggregate step" in p.message and p.line == 3


def test_entry_with_two_steps(tmp_path):
    _, (p,) = problems(tmp_path, GOOD.replace("  - treat: {method: winsorise, max_points: 3}",
                                              "  - {treat: {}, normalise: {}}"))
    assert "must name one step, found 2" in p.message and p.line == 4


def test_inputs_required(tmp_path):
    _, (p,) = problems(tmp_path, "name: x\npipeline:\n  - aggregate: {}\n")
    assert "needs either data" in p.message
    _, (p,) = problems(tmp_path, "name: x\nframework: f.yaml\ndata: {format: coinr, idata: a, imeta: b}\n"
                                 "pipeline:\n  - aggregate: {}\n")
    assert "remove inventory/indicators/framework" in p.message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="spec file does not exist") as err:
        load_spec(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(err.value)


def test_bad_yaml_names_the_line(tmp_path):
    _, (p,) = problems(tmp_path, "name: x\nframework: f.yaml\npipeline:\n  - aggregate: {method: [arithmetic}\n")
    assert "not valid YAML" in p.message and p.line == 4


def test_a_key_given_twice_is_refused_at_its_second_line_and_column(tmp_path):
    path, (p,) = problems(tmp_path, GOOD + "pipeline:\n  - aggregate: {method: geometric}\n")
    assert str(p) == (f"{path} line 7, column 1: not valid YAML: key 'pipeline' is given twice in one mapping "
                      "(first on line 3); keep one")
    _, (p,) = problems(tmp_path, GOOD.replace("max_points: 3", "max_points: 3, max_points: 4"))
    assert (p.line, p.column) == (4, "47") and "'max_points' is given twice" in p.message


def test_not_a_mapping(tmp_path):
    _, (p,) = problems(tmp_path, "- just\n- a list\n")
    assert "must be a mapping" in p.message


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(GOOD.replace("Test index", "Z\xfcrich").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_spec(path)


def test_unknown_aggregation_method_is_caught_by_the_spec_check(tmp_path):
    _, (p,) = problems(tmp_path, GOOD.replace("{method: arithmetic}", "{method: geometrc}"))
    assert p.line == 6 and "did you mean 'geometric'" in p.message


def test_shared_example_specs_load():
    need_shared(ASEM_STANDARD, ASEM_GEOMETRIC)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        spec = load_spec(path)
        assert spec.model.data is not None and spec.model.data.format == "coinr"
