"""The site and the dashboard in Chromium: every page loads cleanly from a host and from disk, the dashboard
fetches nothing, the what-if equals Python, shared links restore the view, the map leads to city pages,
downloads hold what is shown, hostile text stays text and axe-core finds nothing serious."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from smartcities.online import whatif

from .conftest import HOSTILE_CITY, IMAGE, SCRIPT, axe_violations

PAGES = ["index.html", "map.html", "whatif.html", "compare.html", "city/london.html", "methodology.html",
         "downloads.html"]
TABS = ["ranking", "map", "whatif", "compare", "city&city=london", "methodology", "downloads"]


def site_url(published, page: str) -> str:
    return (published / "site" / page).as_uri()


def dashboard_url(published, fragment: str = "") -> str:
    return (published / "dashboard.html").as_uri() + fragment


@pytest.mark.parametrize("page", PAGES)
def test_every_site_page_loads_from_disk_and_from_a_host_without_console_errors(watched, published, host, page):
    for url in (site_url(published, page), host + page):
        shown = watched.open(url)
        assert shown.locator("h1").first.inner_text().strip()
        assert shown.locator("main").inner_text().strip()
    assert watched.errors == []


def test_every_dashboard_tab_loads_without_console_errors_and_fetches_nothing(watched, published):
    url = dashboard_url(published)
    page = watched.open(url)
    for tab in TABS:
        page.evaluate(f"location.hash = 'tab={tab}'")
        page.wait_for_timeout(150)
        view = page.locator(f"#view-{tab.split('&')[0]}")
        assert view.is_visible() and view.inner_text().strip()
    page.evaluate("location.hash = 'tab=map'")
    page.locator("#dots a[href*=santiago]").click()
    page.wait_for_function("location.hash.includes('tab=city')")
    page.locator("nav [data-tab=compare]").click()
    page.wait_for_timeout(200)
    assert watched.errors == []
    assert set(watched.requests) == {url}, "dashboard.html requested something besides itself"


def _table_names(page, table: str) -> list[str]:
    return page.locator(f"#{table} tbody th").all_inner_texts()


def test_whatif_slider_changes_the_ranking(watched, published):
    page = watched.open(site_url(published, "whatif.html"))
    before = _table_names(page, "w-table")
    page.locator("#w-governance").fill("0")
    page.locator("#w-urban_sustainability").fill(page.locator("#w-urban_sustainability").get_attribute("max"))
    page.wait_for_function("document.querySelector('#w-table .up, #w-table .down') !== null")
    assert _table_names(page, "w-table") != before
    assert "governance" in page.locator("#w-warn").inner_text().lower()
    assert "w=" in page.evaluate("location.hash")


def _js_scores(page, weights, aggregation):
    got = page.evaluate("([w, a]) => { const m = JSON.parse(document.getElementById('data-model').textContent);"
                        " const s = WhatIf.scores(m, w, a); const n = m.nodes.length, out = [], ranks = [];"
                        " for (let j = 0; j < n; j++) ranks.push(Array.from(WhatIf.ranks(WhatIf.column(m, s, j))));"
                        " return {scores: Array.from(s), ranks: ranks}; }", [weights, aggregation])
    scores = np.array([np.nan if v is None else v for v in got["scores"]], dtype=float)
    ranks = np.array([[np.nan if v is None else v for v in col] for col in got["ranks"]], dtype=float).T
    return scores, ranks


def assert_same_ranks(ranks: np.ndarray, scores: np.ndarray, expected: np.ndarray, tol: float = 1e-9) -> None:
    """Ranks equal Python's, except where a city's score lies within `tol` of another's: there the last bit of
    the sum (numpy's matrix product against the script's loop) decides the tie, and either side of it is right."""
    for j in range(scores.shape[1]):
        s = scores[:, j]
        for u in np.flatnonzero(~np.isnan(s)):
            lo = 1 + np.count_nonzero(s > s[u] + tol)
            hi = 1 + np.count_nonzero(s > s[u] - tol)
            assert lo <= ranks[u, j] <= hi and (lo != hi or ranks[u, j] == expected[u, j]), (u, j)


@pytest.mark.parametrize("aggregation", ["arithmetic", "geometric"])
def test_whatif_script_equals_python_for_random_weights(watched, published, demo_docs, aggregation):
    model = demo_docs[1]["model"]
    page = watched.open(site_url(published, "whatif.html"))
    rng = np.random.default_rng(7)
    parents = [n for j, n in enumerate(model["nodes"]) if model["parent"][j] >= 0]
    for _ in range(4):
        weights = {n: float(rng.uniform(0.05, 5)) for n in parents}
        scores, ranks = _js_scores(page, weights, aggregation)
        expected = whatif.recompute(model, weights, aggregation)
        shape = expected.scores.shape
        np.testing.assert_allclose(scores.reshape(shape), expected.scores, rtol=0, atol=1e-9)
        assert_same_ranks(ranks, expected.scores, expected.ranks)
        changed = expected.ranks[:, -1] != whatif.recompute(model).ranks[:, -1]
        assert changed.any()


@pytest.mark.parametrize("aggregation", ["arithmetic", "geometric"])
def test_whatif_script_equals_python_as_sliders_move_one_at_a_time(watched, published, demo_docs, aggregation):
    """Each move recomputes only the parents above the weight that changed; the numbers stay Python's."""
    model = demo_docs[1]["model"]
    page = watched.open(site_url(published, "whatif.html"))
    weights: dict[str, float] = {}
    for node, w in (("governance", 0.0), ("urban_openness", 4.0), (model["indicators"][3], 2.5),
                    ("governance", 1.5), (model["indicators"][3], 0.0)):
        weights[node] = w
        scores, ranks = _js_scores(page, weights, aggregation)
        expected = whatif.recompute(model, weights, aggregation)
        np.testing.assert_allclose(scores.reshape(expected.scores.shape), expected.scores, rtol=0, atol=1e-9)
        assert_same_ranks(ranks, expected.scores, expected.ranks)


def test_simulated_city_equals_python_for_a_changed_and_a_new_city(watched, published, demo_docs):
    model = demo_docs[1]["model"]
    page = watched.open(site_url(published, "whatif.html"))
    at = model["cities"].index("london")
    raw = dict(zip(model["indicators"], model["raw"][at]))
    changed = {**raw, model["indicators"][0]: (raw[model["indicators"][0]] or 0) * 3 + 5}
    weights = {d: w for d, w in zip(demo_docs[1]["index"]["domains"], (3, 0.5, 1, 2, 1, 0.2, 1, 4))}
    for city, values, aggregation in (("london", changed, "geometric"), (None, changed, "arithmetic")):
        got = page.evaluate("([m, raw, city, w, a]) => { const r = WhatIf.scoreCity(m, raw, city, w, a, {});"
                            " return {scores: Array.from(r.scores), ranks: Array.from(r.ranks),"
                            " ranked: Array.from(r.ranked)}; }", [model, values, city, weights, aggregation])
        rows = whatif.score(model, values, city, weights=weights, aggregation=aggregation)
        np.testing.assert_allclose(got["scores"], [r["score"] for r in rows], rtol=0, atol=1e-9)
        assert got["ranks"] == [r["rank"] for r in rows]
        assert got["ranked"] == [r["ranked"] for r in rows]


def test_shared_whatif_link_restores_weights_aggregation_and_ranking(watched, published, demo_docs):
    model = demo_docs[1]["model"]
    url = site_url(published, "whatif.html") + "#w=governance:0,service_innovation:3.5&agg=geometric"
    page = watched.open(url)
    assert page.locator("#w-governance").input_value() == "0"
    assert float(page.locator("#w-service_innovation").input_value()) == 3.5
    assert page.locator('input[name=agg][value=geometric]').is_checked()
    expected = whatif.recompute(model, {"governance": 0, "service_innovation": 3.5}, "geometric")
    names = dict(zip(model["cities"], model["cities"]))
    order = [names[c] for c in np.array(model["cities"])[np.argsort(expected.ranks[:, -1], kind="stable")]]
    shown = page.locator("#w-table tbody th a").evaluate_all("links => links.map(a => a.href)")
    assert [h.rsplit("/", 1)[-1].removesuffix(".html") for h in shown] == order


def test_shared_dashboard_links_restore_tab_selection_and_filters(watched, published):
    page = watched.open(dashboard_url(published, "#tab=compare&cities=london,paris,tokyo"))
    assert page.locator("#view-compare").is_visible()
    assert page.locator("#c-chips li").all_inner_texts()[0].startswith("London")
    assert len(page.locator("#c-table thead th").all()) == 4
    page = watched.open(dashboard_url(published, "#tab=ranking&node=governance&region=Europe&sort=score&dir=desc"))
    assert page.locator("#r-node").input_value() == "governance"
    assert page.locator("#r-region").input_value() == "Europe"
    scores = [float(t) for t in page.locator("#r-table tbody td:nth-child(4)").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and len(scores) < 31


def test_map_click_opens_the_city_page(watched, published):
    page = watched.open(site_url(published, "map.html"))
    dot = page.locator("#dots a[href*=santiago]")
    label = dot.get_attribute("aria-label")
    dot.click()
    page.wait_for_url("**/city/*.html")
    page.wait_for_function("window.__ready === true")
    assert page.locator("h1").inner_text() == label.split(":")[0]
    page = watched.open(dashboard_url(published, "#tab=map"))
    page.locator("#dots a[href*=sydney]").click()
    page.wait_for_function("location.hash.includes('tab=city')")
    assert page.locator("#view-city").is_visible() and page.locator("#city .cards").count() == 1


def test_map_has_a_table_alternative_and_colours_by_best_domain(watched, published):
    page = watched.open(site_url(published, "map.html"))
    assert page.locator("#map-table tbody tr").count() == 31
    page.select_option("#m-colour", "best")
    assert page.locator("#map-legend li").count() == 8
    assert "colour=best" in page.evaluate("location.hash")


def test_download_holds_the_displayed_rows(watched, published):
    page = watched.open(site_url(published, "index.html"))
    page.select_option("#r-region", "Asia")
    page.fill("#r-q", "a")
    shown = _table_names(page, "r-table")
    with page.expect_download() as got:
        page.locator("#r-dl button[data-f=csv]").click()
    rows = list(csv.DictReader(io.StringIO(open(got.value.path(), encoding="utf-8").read())))
    assert [r["name"] for r in rows] == shown and 0 < len(rows) < 31
    assert {r["region"] for r in rows} == {"Asia"}
    with page.expect_download() as got:
        page.locator("#r-dl button[data-f=json]").click()
    data = json.loads(open(got.value.path(), encoding="utf-8").read())
    assert [r["name"] for r in data["rows"]] == shown
    assert data["metadata"]["node"]["node"] == "index" and data["metadata"]["filters"]["region"] == "Asia"


def test_hostile_text_is_shown_as_text_everywhere(watched, published):
    page = watched.open(site_url(published, "city/london.html"))
    inits = page.locator("#city-inits")
    assert SCRIPT in inits.inner_text() and IMAGE in inits.inner_text()
    assert inits.locator("a[href^=javascript]").count() == 0
    for url in (site_url(published, "index.html"), site_url(published, f"city/{HOSTILE_CITY}.html"),
                dashboard_url(published, "#tab=city&city=london"), dashboard_url(published, "#tab=map")):
        page = watched.open(url)
        page.wait_for_timeout(100)
        assert page.locator("main img").count() == 0
    assert IMAGE in watched.page.locator("#map-table").text_content()
    assert watched.dialogs == [] and watched.errors == []


@pytest.mark.parametrize("url", PAGES + ["dashboard.html", "dashboard.html#tab=whatif",
                                         "dashboard.html#tab=city&city=london", "dashboard.html#tab=map"])
def test_axe_finds_no_serious_or_critical_violation(watched, published, url):
    dashboard = url.startswith("dashboard.html")
    page = watched.open(dashboard_url(published, url.removeprefix("dashboard.html")) if dashboard
                        else site_url(published, url))
    page.wait_for_timeout(200)
    assert axe_violations(page) == []


NORMALISATIONS = ["{method: minmax, range: [1, 100]}", "{method: zscore, mean: 10, sd: 2}", "{method: rank}",
                  "{method: percentile}", "{method: borda}", "{method: distance-to-max}",
                  "{method: distance-to-target}"]


@pytest.mark.parametrize("normalise", NORMALISATIONS)
def test_every_frozen_step_in_the_script_equals_python(watched, published, tmp_path, normalise):
    """The ASEM index runs denominate, group-mean impute, screen, winsorise (log) and then each normalisation:
    a changed city and a new one (with its denominators and group given) score as Python scores them."""
    import re

    from conftest import asem_spec

    from smartcities.build import build

    spec = asem_spec(tmp_path, "standard")
    spec.write_text(re.sub(r"normalise: \{[^}]*\}", f"normalise: {normalise}", spec.read_text()))
    model = whatif.model_document(build(spec))
    assert not [s for s in model["frozen"]["steps"] if "reason" in s]
    page = watched.open(site_url(published, "whatif.html"))
    at = 5
    raw = dict(zip(model["indicators"], model["raw"][at]))
    changed = {**raw, model["indicators"][2]: None, model["indicators"][7]: (raw[model["indicators"][7]] or 1) * 2}
    groups = {g: labels[at] for g, labels in model["frozen"].get("groups", {}).items()}
    denominators = {d: values[at] for d, values in model["frozen"].get("denominators", {}).items()}
    for city, context in ((model["cities"][at], {}), (None, {"groups": groups, "denominators": denominators})):
        got = page.evaluate("([m, raw, city, c]) => { const r = WhatIf.scoreCity(m, raw, city, {}, null, c);"
                            " return {leaves: Array.from(r.leaves).map(v => v === v ? v : null),"
                            " scores: Array.from(r.scores).map(v => v === v ? v : null),"
                            " ranks: Array.from(r.ranks).map(v => v === v ? v : null)}; }",
                            [model, changed, city, context])
        rows = whatif.score(model, changed, city, groups=groups if city is None else None,
                            denominators=denominators if city is None else None)
        leaves = whatif.frozen_leaves(model, np.array([np.nan if v is None else v for v in changed.values()]),
                                      at if city else None, groups if city is None else {},
                                      denominators if city is None else {})
        np.testing.assert_allclose(np.array(got["leaves"], dtype=float), leaves, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(np.array(got["scores"], dtype=float),
                                   np.array([r["score"] for r in rows], dtype=float), rtol=0, atol=1e-9)
        assert got["ranks"] == [r["rank"] for r in rows]


VIEWBOX = "document.getElementById('world').getAttribute('viewBox').split(' ').map(Number)"


def dot_centre(page, city: str) -> tuple[float, float]:
    box = page.locator(f"#dots a[href*={city}] circle").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_map_zooms_about_the_pointer_with_dots_of_the_same_size_that_still_open_their_city(watched, published):
    page = watched.open(site_url(published, "map.html"))
    whole = page.evaluate(VIEWBOX)
    size = page.locator("#dots a[href*=incheon] circle").bounding_box()["width"]
    x, y = dot_centre(page, "incheon")
    under = "(x, y) => document.elementFromPoint(x, y).closest('a').getAttribute('href')"
    assert page.evaluate(f"({under})({x}, {y})").endswith("seoul.html")  # at full view Seoul covers Incheon
    px, py = round(x), round(y)  # where the pointer lands: whole pixels
    page.mouse.move(px, py)
    for _ in range(10):
        page.mouse.wheel(0, -200)
    page.wait_for_function(f"{VIEWBOX}[2] < {whole[2] / 40}")
    k = whole[2] / page.evaluate(VIEWBOX)[2]
    moved = dot_centre(page, "incheon")  # the map point under the pointer stays put, the rest spreads k times
    assert moved == pytest.approx((px + k * (x - px), py + k * (y - py)), abs=1)
    assert page.locator("#dots a[href*=incheon] circle").bounding_box()["width"] == pytest.approx(size, abs=0.5)
    assert page.locator(".zlevel").inner_text().startswith("×")
    page.mouse.wheel(0, 100000)  # back out to the whole world, then the page scrolls
    page.wait_for_function(f"{VIEWBOX}[2] === {whole[2]}")
    page.mouse.wheel(0, 300)
    page.wait_for_function("scrollY > 0")
    page.evaluate("scrollTo(0, 0)")
    page.mouse.move(px, py)
    for _ in range(10):
        page.mouse.wheel(0, -200)
    page.wait_for_function(f"{VIEWBOX}[2] < {whole[2] / 40}")
    page.locator("#dots a[href*=incheon]").click()  # Seoul no longer covers it
    page.wait_for_url("**/city/incheon.html")
    page.wait_for_function("window.__ready === true")
    assert page.locator("h1").inner_text() == "Incheon"


def test_map_drag_pans_without_opening_a_city_and_reset_restores_the_whole_world(watched, published):
    page = watched.open(site_url(published, "map.html"))
    whole = page.evaluate(VIEWBOX)
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_function(f"{VIEWBOX}[2] < {whole[2] / 3}")
    zoomed = page.evaluate(VIEWBOX)
    box = page.locator("#world").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 120, y - 40, steps=6)
    page.mouse.up()
    page.wait_for_function(f"{VIEWBOX}[0] > {zoomed[0] + 1}")
    assert page.url.endswith("map.html") or "map.html#" in page.url  # the drag did not follow the dot's link
    page.wait_for_function("location.hash.includes('zoom=')")
    page.get_by_role("button", name="Reset zoom").click()
    page.wait_for_function(f"{VIEWBOX}.join(' ') === '{' '.join(f'{v:g}' for v in whole)}'")
    page.wait_for_function("!location.hash.includes('zoom=')")
    assert page.locator(".zlevel").inner_text() == ""


def test_map_zooms_and_pans_from_the_keyboard_and_a_shared_link_restores_the_zoom(watched, published):
    page = watched.open(dashboard_url(published, "#tab=map"))
    whole = page.evaluate(VIEWBOX)
    page.get_by_role("button", name="Zoom in").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"{VIEWBOX}[2] === {whole[2] / 2}")
    page.keyboard.press("+")
    page.wait_for_function(f"{VIEWBOX}[2] === {whole[2] / 4}")
    before = page.evaluate(VIEWBOX)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"{VIEWBOX}[0] > {before[0]}")
    page.wait_for_function("location.hash.includes('zoom=4,')")
    shared = page.url
    page.keyboard.press("0")
    page.wait_for_function(f"{VIEWBOX}[2] === {whole[2]}")
    page.goto("about:blank")
    page = watched.open(shared)
    page.wait_for_function(f"{VIEWBOX}[2] === {whole[2] / 4}")
    assert page.evaluate(VIEWBOX)[0] > before[0]
    assert [u for u in watched.requests if not u.startswith("file:")] == []


def test_map_draws_the_leader_last_so_no_dot_covers_it(watched, published, demo_docs):
    page = watched.open(site_url(published, "map.html"))
    leader = next(r for r in demo_docs[1]["ranking"] if r["node"] == demo_docs[1]["index"]["root"] and r["rank"] == 1)
    assert page.locator("#dots a").last.get_attribute("href").endswith(f"city/{leader['city']}.html")
    page.select_option("#m-colour", "best")
    labels = page.locator("#dots a").evaluate_all("links => links.map(a => a.getAttribute('aria-label'))")
    assert len(labels) == 31
