"""`editions: smooth` in Chromium: the ranking page has a "Smoothed rank" column holding editions.csv's smoothed
ranks (of the edition the slider shows) and says which weights made them, the dashboard's ranking and the city page
have the column too; the same index without smoothing shows none of it."""

from __future__ import annotations

import pytest
from test_faces_editions import editions_index
from test_site_smoothed import smoothed_index

from .conftest import axe_violations


def publish(folder, spec):
    from smartcities.build import build
    from smartcities.online.bundle import documents
    from smartcities.online.site import write_dashboard, write_site

    result = build(spec)
    docs = documents(result)
    write_site(docs, folder / "out")
    write_dashboard(docs, folder / "out" / "site" / "dashboard.html")
    return folder / "out" / "site", result


@pytest.fixture(scope="module")
def smoothed_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smoothed-site")
    return publish(folder, smoothed_index(folder))


@pytest.fixture(scope="module")
def plain_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain-site")
    return publish(folder, editions_index(folder))


def smoothed(result, edition: str) -> dict[str, int]:
    """editions.csv's smoothed rank of the index by city name, in one edition."""
    c = result.editions.changes
    rows = c[(c["node"] == "Index") & (c["edition"] == edition)]
    return {city.title(): int(rank) for city, rank in zip(rows["city"], rows["smoothed_rank"])}


def column(page) -> dict[str, int]:
    names = page.locator("#r-table tbody th").all_inner_texts()
    ranks = page.locator("#r-table tbody td.smoothed").all_inner_texts()
    return {n.strip(): int(r) for n, r in zip(names, ranks) if r != "—"}  # a city without a score: none


def test_the_ranking_shows_the_smoothed_ranks_of_the_edition_shown(watched, smoothed_site):
    site, result = smoothed_site
    page = watched.open((site / "index.html").as_uri())
    assert "Smoothed rank" in page.locator("#r-table thead").text_content()
    assert column(page) == smoothed(result, "2021")
    assert "weights 3, 2, 1 over the latest editions" in page.locator(".smooth-note").inner_text()
    page.locator("#r-edition").fill("1")
    page.wait_for_function("document.getElementById('r-count').textContent.startsWith('2019')")
    assert column(page) == smoothed(result, "2019") != smoothed(result, "2021")
    assert watched.errors == []


def test_the_dashboards_ranking_shows_them_too(watched, smoothed_site):
    site, result = smoothed_site
    page = watched.open((site / "dashboard.html").as_uri() + "#tab=ranking")
    assert column(page) == smoothed(result, "2021")
    assert watched.errors == []


def test_the_smoothed_ranking_page_passes_axe(watched, smoothed_site):
    site, _ = smoothed_site
    page = watched.open((site / "index.html").as_uri())
    assert axe_violations(page) == []


def test_the_city_page_shows_its_smoothed_ranks(watched, smoothed_site):
    site, result = smoothed_site
    page = watched.open((site / "city" / "city9.html").as_uri())
    table = page.locator("#city-editions ~ .table-wrap table").first
    heads = table.locator("thead th").all_text_contents()
    at = heads.index("Smoothed rank")
    rows = [r.split("\t") for r in table.locator("tbody tr").all_inner_texts()]
    assert [(r[0], int(r[at])) for r in rows] == [(e, smoothed(result, e)["City9"]) for e in ("2017", "2019", "2021")]
    assert page.locator(".smooth-note").count() == 1
    assert watched.errors == []


def test_without_smoothing_no_smoothed_column(watched, plain_site):
    site, _ = plain_site
    page = watched.open((site / "index.html").as_uri())
    assert "Change" in page.locator("#r-table thead").text_content()  # an editions build all the same
    assert "Smoothed" not in page.locator("#r-table thead").text_content()
    assert page.locator(".smooth-note").count() == 0
    page = watched.open((site / "city" / "city9.html").as_uri())
    assert "Smoothed" not in page.locator("#city-editions ~ .table-wrap table").first.text_content()
    page = watched.open((site / "dashboard.html").as_uri() + "#tab=ranking")
    assert "Smoothed" not in page.locator("#r-table thead").text_content()
    assert watched.errors == []


def test_the_map_shows_the_smoothed_ranks_of_the_edition_shown(watched, smoothed_site):
    site, result = smoothed_site
    page = watched.open((site / "map.html").as_uri())
    page.locator("#map-table summary").click()
    names = page.locator("#map-table tbody th").all_inner_texts()
    ranks = page.locator("#map-table tbody td.smoothed").all_inner_texts()
    assert {n.strip(): int(r) for n, r in zip(names, ranks) if r != "—"} == smoothed(result, "2021")
    assert "smoothed rank" in page.locator("#dots a").first.get_attribute("aria-label")
    page.locator("#m-edition").fill("1")
    page.wait_for_function("!document.querySelector('#map-legend').textContent.includes('2021')")
    ranks = page.locator("#map-table tbody td.smoothed").all_inner_texts()
    assert {n.strip(): int(r) for n, r in zip(names, ranks) if r != "—"} == smoothed(result, "2019")
    assert watched.errors == []


def test_without_smoothing_the_map_has_no_smoothed_column(watched, plain_site):
    site, _ = plain_site
    page = watched.open((site / "map.html").as_uri())
    assert "Smoothed" not in page.locator("#map-table").text_content()
    assert "smoothed" not in page.locator("#dots a").first.get_attribute("aria-label")
    assert watched.errors == []
