"""The shipped training inventory: a checked table holding the demo's sample unchanged, each row sourced."""

from __future__ import annotations

import re

import pandas as pd
from conftest import PACKAGE_DATA

from smartcities.io.inventory import read_inventory

TRAINING = PACKAGE_DATA / "initiatives"


def _raw(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_reads_as_an_inventory_with_unique_ids_and_a_source_per_row():
    inventory = read_inventory(TRAINING / "inventory.csv")
    assert len(inventory) >= 2000 and inventory["city"].nunique() >= 80
    assert inventory["id"].is_unique
    assert inventory["source_url"].str.match(r"https?://\S+$").all()
    assert not inventory.duplicated(["city", "name"]).any()


def test_holds_the_demo_sample_unchanged():
    sample = _raw(PACKAGE_DATA / "sci2022" / "inventory.csv")
    training = _raw(TRAINING / "inventory.csv").set_index("id")
    assert training.loc[sample["id"]].reset_index()[sample.columns].equals(sample)


def test_every_hold_out_city_is_named_once_and_absent_from_the_sample():
    text = (TRAINING / "HOLDOUT.md").read_text(encoding="utf-8")
    cities = [c.strip() for c in text.strip().splitlines()[-1].split(",")]
    assert len(cities) == len(set(cities)) == 10
    sample = set(_raw(PACKAGE_DATA / "sci2022" / "inventory.csv")["city"])
    assert not sample & set(cities)
    training = _raw(TRAINING / "inventory.csv")
    held = training[training["city"].isin(cities)]
    assert held["city"].nunique() >= 5 and all(re.match(r"[a-z-]+-\d\d$", i) for i in held["id"])


def test_second_coding_covers_a_tenth_and_agrees_per_column():
    from smartcities.inventory.agree import agreement_of_files

    second = _raw(TRAINING / "second_coding.csv")
    first = _raw(TRAINING / "inventory.csv")
    assert set(second["id"]) <= set(first["id"]) and len(second) >= len(first) // 10
    table = agreement_of_files([TRAINING / "second_coding.csv", TRAINING / "inventory.csv"]).set_index("column")
    assert (table.loc[["item_type", "service_domain", "lead_actor", "inclusive"], "units"] == len(second)).all()
    assert (table.loc[["service_domain", "lead_actor"], "cohen_kappa"] > 0.8).all()
