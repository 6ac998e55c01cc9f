"""The static site and the dashboard as files: what each page inlines, the map drawn from the world atlas, the
ranking as columns, hostile text kept out of the markup, licences beside vendored code."""

from __future__ import annotations

import json
import math
import re

import pytest

from smartcities.online import site


@pytest.fixture(scope="module")
def docs():
    from smartcities.build import build
    from smartcities.cli.build import DEMO_SPEC
    from smartcities.online.bundle import documents

    return documents(build(DEMO_SPEC))


@pytest.fixture(scope="module")
def published(tmp_path_factory, docs):
    out = tmp_path_factory.mktemp("site")
    hostile = json.loads(json.dumps(docs))
    hostile["cities/london/profile"]["initiatives"][0]["name"] = "<script>alert(1)</script>"
    hostile["cities/london/profile"]["initiatives"][0]["description"] = "<img src=x onerror=alert(1)>"
    for row in hostile["cities"]:
        if row["city"] == "paris":
            row["name"] = "Paris </script><script>alert(2)</script>"
    written = site.write_site(hostile, out)
    dashboard = site.write_dashboard(hostile, out / "dashboard.html")
    return out, written, dashboard


def blocks(html: str) -> dict:
    """The page's inlined data blocks, parsed."""
    return {m[1]: json.loads(m[2]) for m in re.finditer(
        r'<script type="application/json" id="data-([a-z]+)">(.*?)</script>', html, re.S)}


def test_equal_earth_matches_the_projection_at_known_points():
    cx, cy = site.equal_earth(0, 0)
    assert (cx, cy) == (round(site.X_MAX * site.MAP_SCALE, 1), round(site.Y_MAX * site.MAP_SCALE, 1))
    # the projection's published extent: x = ±2.7066 at the equator's ends, y = ±1.3174 at the poles
    east, _ = site.equal_earth(180, 0)
    _, north = site.equal_earth(0, 90)
    assert math.isclose(east, 2 * site.X_MAX * site.MAP_SCALE, abs_tol=0.1)
    assert math.isclose(north, (site.Y_MAX - 1.3173627) * site.MAP_SCALE, abs_tol=0.1)
    # equal area, not equal angle: 60° north sits less than twice as far up as 30° north
    y30, y60 = (cy - site.equal_earth(0, lat)[1] for lat in (30, 60))
    assert 1.5 < y60 / y30 < 2


def test_arcs_decode_quantised_deltas_and_reversed_arcs():
    topology = {"transform": {"scale": [0.5, 2], "translate": [10, -1]}, "arcs": [[[0, 0], [2, 0], [0, 1]],
                                                                                  [[2, 1], [-2, -1]]]}
    arcs = site._arcs(topology)
    assert arcs == [[(10, -1), (11, -1), (11, 1)], [(11, 1), (10, -1)]]
    assert site._ring(arcs, [0, 1]) == [(10, -1), (11, -1), (11, 1), (10, -1)]


def test_ring_reversal_follows_the_arcs_backwards():
    arcs = [[(0, 0), (1, 0), (1, 1)], [(1, 1), (0, 0)]]
    assert site._ring(arcs, [~1, ~0]) == [(0, 0), (1, 1), (1, 0), (0, 0)]


def test_a_ring_across_the_antimeridian_is_drawn_on_both_sides():
    ring = [(179, 0), (-179, 0), (-179, 1), (179, 1), (179, 0)]
    east, west = site._across_antimeridian(ring)
    assert [lon for lon, _ in east] == [179, 181, 181, 179, 179]
    assert [lon for lon, _ in west] == [-181, -179, -179, -181, -181]
    pole = [(-180, -85), (0, -85), (180, -85), (-180, -85)]  # one crossing: round the pole, left as it is
    assert site._across_antimeridian(pole) == [pole]


def test_world_map_has_every_country_and_no_line_across_the_world():
    shapes = site.world_shapes()
    assert len(shapes) == 177 and dict(shapes)["Fiji"].count("M") > 2
    width, height = site.map_size()
    for name, d in shapes:
        for ring in d.split("M")[1:]:
            points = [tuple(map(float, p.split(","))) for p in ring.rstrip("Z").split("L")]
            for (x0, y0), (x1, y1) in zip(points, points[1:]):
                # only Antarctica's ring, round the pole, runs along the bottom of the map
                assert abs(x1 - x0) < width / 2 or (name == "Antarctica" and y0 == y1 > 0.9 * height)


def test_ranking_columns_put_every_field_of_every_node_in_city_order():
    rows = [{"city": "b", "node": "x", "score": 2.0, "rank": 1, "grade": None, "p05": float("nan")},
            {"city": "a", "node": "x", "score": 1.0, "rank": 2, "grade": None, "p05": 1.5},
            {"city": "a", "node": "y", "score": 5.0, "rank": 1, "grade": 3}]
    columns = site.ranking_columns(rows, ["a", "b", "c"])
    assert columns["x"] == {"score": [1.0, 2.0, None], "rank": [2, 1, None], "p05": [1.5, None, None]}
    assert columns["y"] == {"score": [5.0, None, None], "rank": [1, None, None], "grade": [3, None, None]}


def test_json_blocks_cannot_close_their_script_element():
    text = site.json_block({"name": "</script><script>alert(1)</script>", "x": "a & b <!--"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script>", "x": "a & b <!--"}


def test_site_has_every_page_type_a_page_per_city_and_the_api_mirror(published, docs):
    out, written, _ = published
    root = out / "site"
    for page in ("index.html", "map.html", "whatif.html", "compare.html", "methodology.html", "downloads.html"):
        assert (root / page).exists()
    cities = [c["city"] for c in docs["cities"]]
    assert sorted(p.name for p in (root / "city").iterdir()) == sorted(f"{c}.html" for c in cities)
    assert (root / "api" / "v1" / "ranking.json").exists() and (root / "api" / "v1" / "ranking.csv").exists()
    assert (root / "api" / "v1" / "cities" / "london" / "profile.json").exists()
    assert set(written) >= {root / "index.html", root / "city" / "london.html"}


def test_each_page_inlines_what_it_draws_and_city_pages_only_their_city(published, docs):
    root = published[0] / "site"
    ranking = blocks((root / "index.html").read_text(encoding="utf-8"))
    assert set(ranking) == {"meta", "cities", "ranking"}
    assert ranking["meta"]["peer_columns"] == ["country"] and "Europe" in ranking["meta"]["regions"]
    assert ranking["ranking"]["index"]["rank"][[c["city"] for c in ranking["cities"]].index("london")] == 1
    assert set(blocks((root / "whatif.html").read_text(encoding="utf-8"))) == {"meta", "cities", "ranking", "model"}
    page = (root / "city" / "london.html").read_text(encoding="utf-8")
    city = blocks(page)
    assert set(city) == {"meta", "city"}
    assert city["city"]["card"]["city"]["city"] == "london"
    assert city["city"]["standing"]["rank"] == 1 and city["city"]["standing"]["p05"] is not None
    assert set(city["city"]["peer_scores"]) == {p["city"] for p in city["city"]["profile"]["peers"]}
    assert "madrid" not in json.dumps(city["city"]["card"])
    assert '<script src="../assets/plotly.min.js">' in page and len(page) < 120_000


def test_dashboard_is_one_file_with_everything_inline(published, docs):
    html = published[2].read_text(encoding="utf-8")
    assert "<link rel=\"stylesheet\"" not in html and not re.search(r"<script[^>]+src=", html)
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.S)  # plotly.js itself names its home page
    assert not re.search(r"(src|href)=\"https?:", markup)
    data = blocks(html)
    assert set(data) == {"meta", "cities", "ranking", "map", "model", "methodology", "profiles"}
    assert set(data["profiles"]) == {c["city"] for c in docs["cities"]}
    assert data["meta"]["mode"] == "dashboard"
    assert "Plotly" in html and "var WhatIf" in html


def test_hostile_text_never_reaches_the_markup(published):
    out, _, dashboard = published
    for path in (out / "site" / "city" / "london.html", out / "site" / "index.html", dashboard):
        html = path.read_text(encoding="utf-8")
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
        assert "alert(2)" not in html.replace("\\u003c/script\\u003e\\u003cscript\\u003ealert(2)", "")
    assert "Paris \\u003c/script\\u003e" in (out / "site" / "index.html").read_text(encoding="utf-8")


def test_vendored_code_and_shapes_keep_their_licences(published):
    assets = published[0] / "site" / "assets"
    assert "MIT" in (assets / "plotly.LICENSE.txt").read_text(encoding="utf-8")
    assert "ISC" in (assets / "world-atlas.PROVENANCE.md").read_text(encoding="utf-8")
    assert "Michael Bostock" in (assets / "world-atlas.LICENSE").read_text(encoding="utf-8")
    assert (assets / "plotly.min.js").stat().st_size > 1_000_000


def test_writing_twice_into_the_same_folder_works(tmp_path, docs):
    site.write_site(docs, tmp_path)
    site.write_site(docs, tmp_path)
    assert (tmp_path / "site" / "index.html").exists()
