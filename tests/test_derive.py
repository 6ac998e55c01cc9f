"""Derive rules on a tiny hand-made inventory, every value worked out by hand."""

from __future__ import annotations

import math
from importlib.resources import files

import pandas as pd
import pytest

from smartcities.errors import InputError
from smartcities.inventory.derive import check_rule, derive_indicators, evaluate_rule
from smartcities.io.inventory import read_cities, read_inventory
from smartcities.model.framework import Framework, Node

COLUMNS = ["id", "city", "item_type", "service_domain", "technologies", "lead_actor", "energy_environment",
           "inclusive", "integrates_data", "citizen_participation", "start_year"]
ROWS = [
    ("a-1", "Alpha", "app_web_service", "transport", "iot;ai", "public", "none", False, True, True, 2015),
    ("a-2", "Alpha", "app_web_service", "transport", "mobile", "public", "indirect", True, False, False, 2017),
    ("a-3", "Alpha", "infrastructure_service", "environment_energy", "iot;big_data", "public_private", "direct",
     False, True, False, 2019),
    ("a-4", "Alpha", "project", "health_welfare", "none", "private", "none", False, False, True, None),
    ("b-1", "Beta", "app_web_service", "administration", "none", "public", "none", False, False, False, 2020),
    ("b-2", "Beta", "living_lab", "other", "xr", "public_private", "indirect", False, False, True, 2021),
]
SERVICES = ["app_web_service", "infrastructure_service"]
LN2, LN3, LN10 = math.log(2), math.log(3), math.log(10)


@pytest.fixture
def inventory() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=COLUMNS)
    frame["start_year"] = frame["start_year"].astype("Int64")
    return frame


@pytest.fixture
def cities() -> pd.DataFrame:
    # Gamma has no initiatives at all.
    return pd.DataFrame({"city": ["alpha", "beta", "gamma"], "name": ["Alpha", "Beta", "Gamma"],
                         "population": [2_000_000.0, 500_000.0, 1_000_000.0], "households": [800.0, 200.0, 400.0]})


def values(rule, inventory, cities) -> list[float]:
    assert check_rule(rule) == []
    return list(evaluate_rule(rule, inventory, cities))


def same(got: list[float], expected: list[float]) -> bool:
    return len(got) == len(expected) and all(
        (math.isnan(g) and math.isnan(e)) or g == pytest.approx(e) for g, e in zip(got, expected))


# --- each kind -------------------------------------------------------------------------------------------------

def test_count(inventory, cities):
    assert values({"kind": "count", "where": {"item_type": SERVICES}}, inventory, cities) == [3, 1, 0]
    assert values({"kind": "count"}, inventory, cities) == [4, 2, 0]


def test_share_of_a_subset(inventory, cities):
    # Alpha: of its 4 app/infra/project items, a-1 (iot, ai) and a-3 (iot, big_data) are intelligent → 2/4.
    # Beta: only b-1 counts (the living lab is outside `of`) and it uses none → 0/1. Gamma: nothing → NaN.
    rule = {"kind": "share", "where": {"technologies": {"any_of": "intelligent"}},
            "of": {"item_type": [*SERVICES, "project"]}}
    assert same(values(rule, inventory, cities), [0.5, 0.0, math.nan])


def test_share_of_all_initiatives(inventory, cities):
    assert same(values({"kind": "share", "where": {"citizen_participation": True}}, inventory, cities),
                [2 / 4, 1 / 2, math.nan])


def test_share_with_empty_denominator_is_nan(inventory, cities):
    rule = {"kind": "share", "where": {"integrates_data": True}, "of": {"item_type": "infrastructure_service"}}
    assert same(values(rule, inventory, cities), [1.0, math.nan, math.nan])


def test_presence(inventory, cities):
    assert values({"kind": "presence", "where": {"inclusive": True}}, inventory, cities) == [1, 0, 0]
    assert values({"kind": "presence", "where": {"item_type": "living_lab"}}, inventory, cities) == [0, 1, 0]


def test_shannon_diversity_of_service_domains(inventory, cities):
    # Alpha: transport 2, environment_energy 1, health_welfare 1 → p = 1/2, 1/4, 1/4
    #   H = -(1/2 ln 1/2 + 2 · 1/4 ln 1/4) = 1/2 ln 2 + ln 2 = 1.5 ln 2.
    # Beta: administration 1 (its 'other' item is excluded) → H = 0. Gamma: no initiatives → NaN.
    rule = {"kind": "diversity", "column": "service_domain", "exclude": ["other"]}
    assert same(values(rule, inventory, cities), [1.5 * LN2, 0.0, math.nan])
    # normalised by ln k, k = the 10 service fields left after excluding 'other'
    assert same(values({**rule, "normalise": True}, inventory, cities), [1.5 * LN2 / LN10, 0.0, math.nan])


def test_shannon_diversity_of_a_list_column(inventory, cities):
    # Alpha's intelligent technologies: iot (a-1, a-3), ai (a-1), big_data (a-3) → 2, 1, 1 → 1.5 ln 2.
    # Beta: xr once → 0.
    rule = {"kind": "diversity", "column": "technologies", "categories": "intelligent"}
    assert same(values(rule, inventory, cities), [1.5 * LN2, 0.0, math.nan])


def test_diversity_of_lead_actors_normalised(inventory, cities):
    # Alpha: public 2, public_private 1, private 1 → 1.5 ln 2 / ln 3. Beta: public 1, public_private 1 → ln 2 / ln 3.
    rule = {"kind": "diversity", "column": "lead_actor", "normalise": True}
    assert same(values(rule, inventory, cities), [1.5 * LN2 / LN3, LN2 / LN3, math.nan])


def test_diversity_when_nothing_matches_is_zero_for_a_city_with_initiatives(inventory, cities):
    rule = {"kind": "diversity", "column": "service_domain", "where": {"item_type": "infrastructure_service"}}
    assert same(values(rule, inventory, cities), [0.0, 0.0, math.nan])


def test_distinct(inventory, cities):
    # Alpha: iot, ai, mobile, big_data (none excluded) → 4; Beta: xr → 1; Gamma → 0.
    assert values({"kind": "distinct", "column": "technologies", "exclude": ["none"]}, inventory, cities) == [4, 1, 0]
    assert values({"kind": "distinct", "column": "service_domain", "where": {"item_type": SERVICES}},
                  inventory, cities) == [2, 1, 0]


def test_per_capita(inventory, cities):
    # services: Alpha 3 per 2,000,000 → 1.5 per million; Beta 1 per 500,000 → 2.0; Gamma 0.
    assert values({"kind": "per_capita", "where": {"item_type": SERVICES}}, inventory, cities) == [1.5, 2.0, 0.0]
    # another denominator column and scale: 4 initiatives per 800 households → 5 per 1,000.
    rule = {"kind": "per_capita", "per": 1000, "denominator": "households"}
    assert values(rule, inventory, cities) == [5.0, 10.0, 0.0]


def test_per_capita_unknown_denominator_is_an_input_error(inventory, cities):
    with pytest.raises(InputError, match="column 'househols', which the cities table does not have "
                                         r"\(did you mean 'households'\?\)"):
        evaluate_rule({"kind": "per_capita", "denominator": "househols"}, inventory, cities)


def test_mean(inventory, cities):
    # start_year: Alpha (2015 + 2017 + 2019) / 3 = 2017 (a-4 has none); Beta (2020 + 2021) / 2.
    assert same(values({"kind": "mean", "column": "start_year"}, inventory, cities), [2017.0, 2020.5, math.nan])
    # a true/false column averages to a share: integrates_data Alpha 2/4, Beta 0/2.
    assert same(values({"kind": "mean", "column": "integrates_data"}, inventory, cities), [0.5, 0.0, math.nan])


# --- filters ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where, expected", [
    ({"technologies": "ai"}, [1, 0, 0]),
    ({"technologies": ["ai", "xr"]}, [1, 1, 0]),
    ({"technologies": {"all_of": ["iot", "big_data"]}}, [1, 0, 0]),
    ({"technologies": {"none_of": "intelligent"}}, [2, 1, 0]),
    ({"technologies": {"any_of": "advanced"}}, [1, 1, 0]),
    ({"start_year": {"min": 2017, "max": 2020}}, [2, 1, 0]),
    ({"start_year": 2015}, [1, 0, 0]),
    ({"lead_actor": {"not": "public"}}, [2, 1, 0]),
    ({"item_type": {"not_in": ["app_web_service"]}}, [2, 1, 0]),
    ({"item_type": {"in": ["project", "living_lab"]}}, [1, 1, 0]),
    ({"integrates_data": False, "item_type": "app_web_service"}, [1, 1, 0]),
    ({"inclusive": {"not": True}}, [3, 2, 0]),
    ({"energy_environment": ["direct", "indirect"], "lead_actor": "public_private"}, [1, 1, 0]),
])
def test_filters(inventory, cities, where, expected):
    assert values({"kind": "count", "where": where}, inventory, cities) == expected


def test_filters_work_on_a_read_inventory(tmp_path, cities):
    lines = [",".join(COLUMNS)] + [",".join("" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                                           for v in row) for row in ROWS]
    path = tmp_path / "inventory.csv"
    path.write_text("\n".join(lines).replace("id,city,", "id,city,name,").replace("a-1,Alpha,", "a-1,Alpha,x,")
                    .replace("a-2,Alpha,", "a-2,Alpha,x,").replace("a-3,Alpha,", "a-3,Alpha,x,")
                    .replace("a-4,Alpha,", "a-4,Alpha,x,").replace("b-1,Beta,", "b-1,Beta,x,")
                    .replace("b-2,Beta,", "b-2,Beta,x,") + "\n", encoding="utf-8")
    inv = read_inventory(path)
    rule = {"kind": "share", "where": {"technologies": {"any_of": "intelligent"}, "integrates_data": True},
            "of": {"item_type": [*SERVICES, "project"]}}
    assert same(values(rule, inv, cities), [0.5, 0.0, math.nan])
    assert values({"kind": "count", "where": {"energy_environment": "none"}}, inv, cities) == [2, 1, 0]


# --- checking rules --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, message", [
    ("count", "derive: expected a mapping such as {kind: count, where: {...}}, found 'count'"),
    ({"where": {}}, "derive: missing 'kind' (one of count, share, presence, diversity, distinct, per_capita, mean)"),
    ({"kind": "shar"}, ("derive.kind: 'shar' is not one of count, share, presence, diversity, distinct, per_capita, "
                       "mean (did you mean 'share'?)")),
    ({"kind": "share"}, "derive: kind share needs 'where'"),
    ({"kind": "count", "wher": {}}, ("derive: unknown key 'wher' for kind count (did you mean 'where'?); "
                                    "known keys: kind, where")),
    ({"kind": "count", "where": {"lead_actor": "goverment"}},
     "derive.where.lead_actor: 'goverment' is not one of public, private, public_private"),
    ({"kind": "count", "where": {"lead_actr": "public"}},
     ("derive.where: unknown column 'lead_actr' (did you mean 'lead_actor'?); known columns: id, city, country, "
     "name, item_type, service_domain, technologies, lead_actor, energy_environment, inclusive, integrates_data, "
     "citizen_participation, start_year, description, source_url, confidence")),
    ({"kind": "count", "where": {"inclusive": "yes"}}, "derive.where.inclusive: 'yes' must be true or false"),
    ({"kind": "count", "where": {"inclusive": [True]}}, "derive.where.inclusive: [True] must be true or false"),
    ({"kind": "count", "where": {"inclusive": {"not": 1}}}, "derive.where.inclusive.not: 1 must be true or false"),
    ({"kind": "count", "where": {"technologies": {"any_of": "inteligent"}}},
     ("derive.where.technologies.any_of: expected a list of values or one of the sets intelligent, advanced, "
     "found 'inteligent'")),
    ({"kind": "count", "where": {"technologies": {"in": ["ai"]}}},
     "derive.where.technologies: operator 'in' is not one of any_of, all_of, none_of"),
    ({"kind": "count", "where": {"start_year": {"min": "2015"}}},
     "derive.where.start_year.min: '2015' must be a number"),
    ({"kind": "count", "where": {"item_type": {"in": ["project", "livinglab"]}}},
     ("derive.where.item_type.in: 'livinglab' is not one of app_web_service, infrastructure_service, project, "
     "living_lab, strategy (did you mean 'living_lab'?)")),
    ({"kind": "diversity", "column": "inclusive"},
     ("derive.column: 'inclusive' is not one of item_type, service_domain, technologies, lead_actor, "
     "energy_environment, confidence")),
    ({"kind": "diversity", "column": "lead_actor", "categories": ["public"], "normalise": True},
     "derive.normalise: needs at least two categories to divide by ln(k)"),
    ({"kind": "distinct", "column": "service_domain", "exclude": ["othr"]},
     ("derive.exclude: 'othr' is not one of administration, transport, health_welfare, environment_energy, "
     "safety_disaster, facility_management, education, culture_tourism, logistics, employment_economy, other "
     "(did you mean 'other'?)")),
    ({"kind": "mean", "column": "lead_actor"},
     "derive.column: 'lead_actor' is not one of inclusive, integrates_data, citizen_participation, start_year"),
    ({"kind": "per_capita", "per": 0}, "derive.per: 0 must be a number of residents above 0, e.g. 1000000"),
])
def test_check_rule_messages(rule, message):
    assert message in check_rule(rule)


def test_check_rule_accepts_good_rules():
    assert check_rule({"kind": "presence", "where": {"item_type": "strategy", "inclusive": True}}) == []
    assert check_rule({"kind": "share", "where": {"energy_environment": ["direct", "indirect"]},
                       "of": {"item_type": {"not": "strategy"}}}) == []


# --- derive_indicators -----------------------------------------------------------------------------------------

def _framework(*leaves: tuple[str, dict | None]) -> Framework:
    nodes = [Node("index", "Index"), Node("d", "Domain", parent="index")]
    nodes += [Node(leaf, leaf, parent="d", derive=rule, line=10 + i) for i, (leaf, rule) in enumerate(leaves)]
    return Framework.from_nodes(nodes, "fw.yaml")


def test_derive_indicators_long_table(inventory, cities):
    fw = _framework(("services", {"kind": "count", "where": {"item_type": SERVICES}}),
                    ("participation", {"kind": "share", "where": {"citizen_participation": True}}),
                    ("measured", None))
    out = derive_indicators(inventory, cities, fw)
    assert list(out.columns) == ["city", "indicator", "value"]
    assert list(zip(out.city, out.indicator)) == [("alpha", "services"), ("beta", "services"),
                                                  ("gamma", "services"), ("alpha", "participation"),
                                                  ("beta", "participation"), ("gamma", "participation")]
    assert same(list(out.value), [3, 1, 0, 0.5, 0.5, math.nan])


def test_derive_indicators_reports_bad_rules_with_file_and_line(inventory, cities):
    fw = _framework(("ok", {"kind": "count"}), ("bad", {"kind": "count", "where": {"item_type": "projct"}}))
    with pytest.raises(InputError) as err:
        derive_indicators(inventory, cities, fw)
    assert [str(p) for p in err.value.problems] == [
        ("fw.yaml line 11, column derive: node 'bad': derive.where.item_type: 'projct' is not one of app_web_service, "
        "infrastructure_service, project, living_lab, strategy (did you mean 'project'?)")]


def test_derive_indicators_rejects_cities_missing_from_the_table(inventory, cities):
    with pytest.raises(InputError, match=r"unknown city 'Beta': not in the cities table"):
        derive_indicators(inventory, cities[cities.city != "beta"], _framework(("n", {"kind": "count"})))


# --- the bundled data and the preset ---------------------------------------------------------------------------

def test_preset_on_bundled_inventory_gives_every_city_and_leaf_in_range():
    from smartcities.model.framework_files import read_framework

    data = files("smartcities") / "data"
    inv = read_inventory(data / "sci2022" / "inventory.csv")
    cities = read_cities(data / "cities" / "cities.csv")
    fw = read_framework("sci-2022")
    out = derive_indicators(inv, cities, fw)
    assert len(out) == 31 * len(fw.leaves())
    assert set(out.city) == set(cities.city) and set(out.indicator) == set(fw.leaves())
    assert not out.value.isna().any()  # every one of the 31 cities has initiatives
    wide = out.pivot(index="city", columns="indicator", values="value")
    for leaf in fw.leaves():
        rule, column = fw.by_id[leaf].derive, wide[leaf]
        assert (column >= 0).all(), leaf
        if rule["kind"] in ("share", "presence") or rule.get("normalise"):
            assert (column <= 1).all(), leaf
        if rule["kind"] == "presence":
            assert set(column) <= {0.0, 1.0}, leaf
        if rule["kind"] in ("count", "distinct"):
            assert (column == column.round()).all(), leaf
        assert column.nunique() > 1, f"{leaf} does not tell the cities apart"
    # hand counts on the bundled inventory
    assert wide.loc["amsterdam", "living_labs"] == 1 and wide.loc["shenzhen", "living_labs"] == 0
    assert wide.loc["amsterdam", "strategy_count"] == 4
    assert wide.loc["seoul", "services_per_million"] == pytest.approx(
        wide.loc["seoul", "services_count"] / 10_349_312 * 1e6)
