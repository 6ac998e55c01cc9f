"""Browser fixtures: Debian's Chromium driven by Playwright (one browser for the package), the demo published once
with hostile text planted in it, and the site also served from a static host on loopback."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
VENDOR = Path(__file__).parent / "vendor"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
HOSTILE_CITY = "brussels"


def plant(value, old: str, new: str):
    """Every string equal to `old` in a document replaced by `new`."""
    if isinstance(value, dict):
        return {k: plant(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [plant(v, old, new) for v in value]
    return new if value == old else value


@pytest.fixture(scope="package")
def browser():
    """One Chromium for all the browser tests, closed when they end: Playwright's sync API runs one driver per
    thread, so a test elsewhere that starts its own must not find this one still running."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def demo_docs():
    """The demo's documents, with a city named in markup and an initiative named and described as script."""
    from smartcities.build import build
    from smartcities.cli.build import DEMO_SPEC
    from smartcities.online.bundle import documents

    result = build(DEMO_SPEC)
    docs = documents(result)
    name = next(c["name"] for c in docs["cities"] if c["city"] == HOSTILE_CITY)
    docs = plant(docs, name, f"{name} {IMAGE}")
    profile = docs["cities/london/profile"]
    profile["initiatives"] = [{**profile["initiatives"][0], "name": SCRIPT, "description": IMAGE,
                               "source_url": "javascript:alert(1)"}] + profile["initiatives"]
    return result, docs


@pytest.fixture(scope="session")
def published(tmp_path_factory, demo_docs):
    from smartcities.online.site import write_dashboard, write_site

    out = tmp_path_factory.mktemp("published")
    write_site(demo_docs[1], out)
    write_dashboard(demo_docs[1], out / "dashboard.html")
    return out


@pytest.fixture(scope="session")
def host(published):
    """The site served by a static file server on 127.0.0.1: its base URL."""
    handler = functools.partial(_Quiet, directory=str(published / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Watched:
    """A page with its console errors, uncaught exceptions, dialogs and requests recorded."""

    def __init__(self, page):
        self.page, self.errors, self.dialogs, self.requests = page, [], [], []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self.requests.append(r.url))

    def open(self, url: str):
        self.page.goto(url)
        self.page.wait_for_function("window.__ready === true", timeout=15000)
        return self.page


@pytest.fixture
def watched(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    yield Watched(context.new_page())
    context.close()


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it stands."""
    page.add_script_tag(path=str(VENDOR / "axe.min.js"))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => "
                          "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => "
                          "n.target.join(' '))})))")
    return [v for v in found if v["impact"] in ("serious", "critical")]
