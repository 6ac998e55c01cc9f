"""An editions build in Chromium: the edition slider switches the ranking and the map to an edition, the change
column marks a significant change, a shared link restores the edition, the city page shows the city's ranks over
the editions; and the demo (no editions) shows no edition control."""

from __future__ import annotations

import pytest
from test_faces_editions import editions_index

from .conftest import axe_violations


@pytest.fixture(scope="module")
def editions_site(tmp_path_factory):
    from smartcities.build import build
    from smartcities.online.bundle import documents
    from smartcities.online.site import write_dashboard, write_site

    folder = tmp_path_factory.mktemp("editions-site")
    result = build(editions_index(folder))
    docs = documents(result)
    write_site(docs, folder / "out")
    write_dashboard(docs, folder / "out" / "dashboard.html")
    return folder / "out", result


def ranked(result, edition: str) -> list[tuple[str, int]]:
    c = result.editions.changes
    rows = c[(c["node"] == "Index") & (c["edition"] == edition)].sort_values(["rank", "city"])
    return [(city.title(), int(rank)) for city, rank in zip(rows["city"], rows["rank"])]


def shown(page) -> list[tuple[str, int]]:
    names = page.locator("#r-table tbody th").all_inner_texts()
    ranks = page.locator("#r-table tbody td.strong").all_inner_texts()
    return [(n.strip(), int(r)) for n, r in zip(names, ranks) if r != "—"]  # a city without a score: no rank


def test_the_edition_slider_switches_the_ranking(watched, editions_site):
    out, result = editions_site
    page = watched.open((out / "site" / "index.html").as_uri())
    assert page.locator("#r-edition-out").inner_text() == "2021"
    assert shown(page) == ranked(result, "2021")
    nine = page.locator("#r-table tbody tr", has=page.locator("th", has_text="City9"))
    change = int(result.editions.changes.query("node == 'Index' and edition == '2021' and city == 'city9'")
                 ["rank_change"].iloc[0])
    assert change > 0 and nine.locator("td.chg .up.significant").count() == 1
    assert nine.locator("td.chg").inner_text().replace("\n", "").startswith(f"▲ {change}*")
    page.locator("#r-edition").fill("0")
    page.wait_for_function("document.getElementById('r-count').textContent.startsWith('2017')")
    assert page.locator("#r-edition-out").inner_text() == "2017"
    first = shown(page)
    assert first == ranked(result, "2017") and first != ranked(result, "2021")
    assert "City2" not in dict(first) and "City1" in dict(first)  # city2 entered later, city1 left later
    assert set(page.locator("#r-table tbody td.chg").all_inner_texts()) == {"—"}  # the first edition: no change
    assert "edition=2017" in page.evaluate("location.hash")
    page.locator("#r-edition").fill("1")
    page.wait_for_function("document.getElementById('r-count').textContent.startsWith('2019')")
    assert shown(page) == ranked(result, "2019")
    two = page.locator("#r-table tbody tr", has=page.locator("th", has_text="City2"))
    assert two.locator("td.chg").inner_text() == "new"
    assert watched.errors == []


def test_a_shared_link_restores_the_edition_and_the_map_follows_the_slider(watched, editions_site):
    out, result = editions_site
    page = watched.open((out / "site" / "index.html").as_uri() + "#edition=2019")
    assert page.locator("#r-edition-out").inner_text() == "2019" and shown(page) == ranked(result, "2019")
    page = watched.open((out / "dashboard.html").as_uri() + "#tab=map")
    assert page.locator("#dots a").count() == 9  # city1 has no score in 2021
    page.locator("#m-edition").fill("0")
    page.wait_for_function("document.getElementById('map-legend').textContent.includes('2017')")
    labels = page.locator("#dots a").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert len(labels) == 9 and any(label.startswith("City1:") for label in labels)
    assert not any(label.startswith("City2:") for label in labels)
    assert watched.errors == []


def test_compare_follows_the_edition_slider(watched, editions_site):
    """Compare shows the chosen cities' index scores and ranks of the edition picked; a city the edition lacks
    shows none; the link keeps the edition."""
    out, result = editions_site
    c = result.editions.changes.query("node == 'Index'")
    page = watched.open((out / "site" / "compare.html").as_uri() + "#cities=city9,city2")

    def index_row() -> list[str]:
        return page.locator("#c-table tbody tr").first.locator("td").all_inner_texts()

    def expected(edition: str, city: str) -> str:
        row = c[(c["edition"] == edition) & (c["city"] == city)]
        return f"{row['score'].iloc[0]:.1f} #{int(row['rank'].iloc[0])}" if len(row) else "— #—"

    assert page.locator("#c-edition-out").inner_text() == "2021"
    assert index_row() == [expected("2021", "city9"), expected("2021", "city2")]
    page.locator("#c-edition").fill("0")
    page.wait_for_function("document.getElementById('c-edition-out').textContent === '2017'")
    assert index_row() == [expected("2017", "city9"), "— #—"]  # city2 entered later
    assert expected("2017", "city9") != expected("2021", "city9")
    assert "edition=2017" in page.evaluate("location.hash")
    assert watched.errors == []


def test_the_city_page_shows_its_ranks_over_the_editions(watched, editions_site):
    out, result = editions_site
    page = watched.open((out / "site" / "city" / "city9.html").as_uri())
    assert page.locator("#city-editions").inner_text() == "Over the editions"
    table = page.locator("#city-editions ~ .table-wrap table").first
    rows = [r.split("\t") for r in table.locator("tbody tr").all_inner_texts()]
    c = result.editions.changes.query("node == 'Index' and city == 'city9'")
    assert [(r[0], int(r[2])) for r in rows] == list(zip(c["edition"], c["rank"].astype(int)))
    assert rows[0][3] == "—" and "▲" in rows[-1][3]
    assert page.locator("#city-editions-chart .js-plotly-plot, #city-editions-chart.js-plotly-plot").count() == 1
    assert watched.errors == []


def test_the_what_if_recomputes_the_edition_picked(watched, editions_site):
    """The what-if's edition slider swaps in that edition's model: with the published weights each city keeps the
    edition's rank (no change), a weight moved re-ranks that edition's cities, the link keeps the edition and the
    weights, and both survive a reload; the best–worst ranks are the latest edition's alone."""
    out, result = editions_site

    def recomputed(page) -> dict[str, int]:
        got = page.evaluate("window.__whatif")
        return {c: int(r) for c, r in zip(got["cities"], got["ranks"]) if r == r}

    page = watched.open((out / "dashboard.html").as_uri() + "#tab=whatif")
    assert page.locator("#w-edition-out").inner_text() == "2021"
    assert recomputed(page) == {c.lower(): r for c, r in ranked(result, "2021")}
    page.locator("#w-edition").fill("0")
    page.wait_for_function("document.getElementById('w-time').textContent.includes('of 2017')")
    assert recomputed(page) == {c.lower(): r for c, r in ranked(result, "2017")}
    assert set(page.locator("#w-table tbody td.chg").all_inner_texts()) == {"="}
    published = [int(t) for t in page.locator("#w-table tbody td:nth-child(5)").all_inner_texts() if t != "—"]
    assert published == [r for _, r in ranked(result, "2017")]  # the edition's own published ranks
    assert set(page.locator("#w-table tbody td:nth-child(6)").all_inner_texts()) == {"—"}
    page.evaluate("""() => { const s = document.querySelector('input[data-node="B"]');
        s.value = 0; s.dispatchEvent(new Event('input', {bubbles: true})); }""")
    page.wait_for_function("location.hash.includes('w=B')")
    moved = recomputed(page)
    assert set(moved) == {c.lower() for c, _ in ranked(result, "2017")} and "edition=2017" in page.evaluate(
        "location.hash")
    page.reload()
    page.wait_for_function("window.__whatif && document.getElementById('w-time').textContent.includes('of 2017')")
    assert recomputed(page) == moved and page.locator('input[data-node="B"]').input_value() == "0"
    page.locator("#w-edition").fill("2")
    page.wait_for_function("document.getElementById('w-time').textContent.includes('of 2021')")
    assert "edition" not in page.evaluate("location.hash") and "w=B" in page.evaluate("location.hash")
    assert watched.errors == []


def test_the_editions_ranking_page_passes_axe(watched, editions_site):
    out, _ = editions_site
    page = watched.open((out / "site" / "index.html").as_uri())
    assert axe_violations(page) == []


def test_the_demo_without_editions_has_no_edition_control(watched, published):
    page = watched.open((published / "site" / "index.html").as_uri())
    assert page.locator("#r-edition").count() == 0
    assert "Change" not in page.locator("#r-table thead").inner_text()
    page = watched.open((published / "dashboard.html").as_uri() + "#tab=map")
    assert page.locator("#m-edition").count() == 0
    assert watched.errors == []
