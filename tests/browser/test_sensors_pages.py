"""The Montréal example's sensors in Chromium: the Sensors tab of the dashboard and the site's sensors page draw its
34 districts, 42 counters and the cycle network from the data inlined in the page, asking for nothing else; the
period slider recolours a district with the value indicators.csv holds, the selector switches the indicator, a
ranked district leads to its city page, whose table shows its latest sensor values."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from test_montreal_example import EXAMPLE, IMPORTS
from typer.testing import CliRunner

from smartcities.cli import app

from .conftest import axe_violations

PLATEAU = "5"  # Le Plateau-Mont-Royal: counters in 2018 and 2019


@pytest.fixture(scope="module")
def montreal(tmp_path_factory):
    """The example with its counters imported, built and published (no PDF): the output folder and the sensors
    document."""
    from smartcities.build import build
    from smartcities.publish import write_outputs

    folder = tmp_path_factory.mktemp("montreal-site") / "montreal"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.wal"))
    for files, adapter in IMPORTS:
        done = CliRunner().invoke(app, ["sensors", "import", *[str(folder / f) for f in files], "--store",
                                        str(folder / "montreal.duckdb"), "--adapter", str(folder / adapter)])
        assert done.exit_code == 0, done.output
    result = build(folder / "montreal.yaml")
    write_outputs(result, folder / "out", site=True)
    return folder / "out", result.inputs.sensor_map


def views(out) -> list[tuple[str, str]]:
    """(URL, the folder whose files it may load) of the dashboard's Sensors tab and of the site's page."""
    return [((out / "dashboard.html").as_uri() + "#tab=sensors", (out / "dashboard.html").as_uri()),
            ((out / "site" / "sensors.html").as_uri(), (out / "site").as_uri() + "/")]


def district(page, city: str):
    return page.locator(f'#s-districts path[data-id="{city}"]')


@pytest.mark.parametrize("which", ["dashboard", "site"])
def test_the_view_draws_districts_sensors_and_network_and_fetches_nothing_else(watched, montreal, which):
    out, document = montreal
    url, own = views(out)[which == "site"]
    page = watched.open(url)
    assert page.locator("#view-sensors").is_visible()
    assert page.locator("#s-districts path.district").count() == len(document["districts"]) == 34
    assert page.locator("#s-sensors circle.sensor").count() == len(document["sensors"]) == 42
    assert page.locator("#s-network polyline").count() == len(document["network"]) > 1000
    assert page.locator("nav [data-tab=sensors]").get_attribute("aria-current") == "page"
    assert page.locator("#s-period-out").inner_text() == "2019"
    assert watched.errors == []
    assert all(r.startswith(own) for r in watched.requests), "the view requested something besides its own files"


@pytest.mark.parametrize("which", ["dashboard", "site"])
def test_the_slider_and_the_selector_recolour_a_district_with_the_built_values(watched, montreal, which):
    out, document = montreal
    page = watched.open(views(out)[which == "site"][0])
    written = pd.read_csv(out / "indicators.csv", dtype={"city": str}).set_index(["city", "indicator"])["value"]
    plateau = district(page, PLATEAU)
    assert float(plateau.get_attribute("data-value")) == pytest.approx(written[(PLATEAU, "bikes_counted")])
    fills = lambda: page.locator("#s-districts path").evaluate_all("ns => ns.map(n => n.style.fill)")  # noqa: E731
    latest = fills()
    page.locator("#s-period").fill("0")
    assert page.locator("#s-period-out").inner_text() == "2018"
    earlier = document["indicators"]["bikes_counted"]["values"]["2018"][PLATEAU]
    assert float(plateau.get_attribute("data-value")) == pytest.approx(earlier) and earlier != pytest.approx(
        written[(PLATEAU, "bikes_counted")])
    assert fills() != latest and "" in latest  # districts change class; those without counters stay grey
    assert "period=2018" in page.evaluate("location.hash")
    page.locator("#s-indicator").select_option("bikes_per_km2")
    assert page.locator("#s-period-out").inner_text() == "2019"
    assert float(plateau.get_attribute("data-value")) == pytest.approx(written[(PLATEAU, "bikes_per_km2")])
    assert "per km²" in page.locator("#sensor-legend").inner_text()
    assert "indicator=bikes_per_km2" in page.evaluate("location.hash")
    no_counter = next(d["id"] for d in document["districts"]
                      if d["id"] not in document["indicators"]["bikes_per_km2"]["values"]["2019"])
    assert district(page, no_counter).get_attribute("data-value") == ""
    assert watched.errors == []


def test_a_shared_link_restores_the_indicator_and_the_period(watched, montreal):
    out, document = montreal
    page = watched.open((out / "site" / "sensors.html").as_uri() + "#indicator=bikes_per_km2&period=2018")
    assert page.locator("#s-indicator").input_value() == "bikes_per_km2"
    assert page.locator("#s-period-out").inner_text() == "2018"
    value = document["indicators"]["bikes_per_km2"]["values"]["2018"][PLATEAU]
    assert float(district(page, PLATEAU).get_attribute("data-value")) == pytest.approx(value)


def test_keyboard_focus_shows_a_sensor_and_a_ranked_district_leads_to_its_page(watched, montreal):
    out, document = montreal
    page = watched.open(views(out)[0][0])
    page.locator("#s-sensors circle.sensor").first.focus()
    tip = page.locator("#sensor-tip")
    assert tip.is_visible() and tip.inner_text() == page.locator("#s-sensors circle.sensor title").first.text_content()
    link = page.locator(f'#s-districts a:has(path[data-id="{PLATEAU}"])')
    assert link.get_attribute("href") == f"#tab=city&city={PLATEAU}"
    assert "Le Plateau-Mont-Royal" in link.get_attribute("aria-label")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash.includes('tab=city')")
    page.wait_for_selector("#city-sensors")
    rows = page.locator("#city-sensors + .table-wrap tbody tr")
    assert rows.count() == 2 and rows.first.locator("td").nth(1).inner_text() == "2019"
    assert rows.first.locator("td").nth(2).inner_text() == "4,422,922"
    assert watched.errors == []


def test_the_site_links_a_ranked_district_to_its_page_and_the_page_shows_its_sensor_values(watched, montreal):
    out, _ = montreal
    page = watched.open((out / "site" / "sensors.html").as_uri())
    link = page.locator(f'#s-districts a:has(path[data-id="{PLATEAU}"])')
    assert link.get_attribute("href") == f"city/{PLATEAU}.html"
    page = watched.open((out / "site" / "city" / f"{PLATEAU}.html").as_uri())
    assert page.locator("#city-sensors").inner_text() == "Sensors"
    assert page.locator("#city-sensors ~ p a").first.get_attribute("href") == "../sensors.html"
    assert watched.errors == []


def test_axe_finds_nothing_serious_on_the_sensors_page(watched, montreal):
    out, _ = montreal
    page = watched.open((out / "site" / "sensors.html").as_uri())
    assert axe_violations(page) == []
