"""Printing the report: finding the browser, printing a page to an A4 PDF with page X of Y, and failing clearly."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from smartcities.errors import InputError
from smartcities.online import pdf
from smartcities.report.html import css_string

pypdf = pytest.importorskip("pypdf")

A4 = (595.28, 841.89)  # points


def need_chromium() -> str:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): printing is not tested")
    return "/usr/bin/chromium"


def fake_browser(folder: Path, name: str, script: str) -> Path:
    """An executable called `name` in `folder` that runs the shell `script` instead of printing."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_browser_is_found_in_the_folders_the_environment_names(tmp_path, monkeypatch):
    monkeypatch.setenv(pdf.BROWSER_PATH, str(tmp_path))
    assert pdf.find_chromium() is None
    chrome = fake_browser(tmp_path, "google-chrome", "exit 0")
    assert pdf.find_chromium() == str(chrome)
    chromium = fake_browser(tmp_path, "chromium", "exit 0")
    assert pdf.find_chromium() == str(chromium)  # chromium is preferred to google-chrome
    monkeypatch.setenv(pdf.BROWSER_PATH, "")
    assert pdf.find_chromium() is None


def test_without_the_variable_usr_bin_is_searched_first(monkeypatch):
    need_chromium()
    monkeypatch.delenv(pdf.BROWSER_PATH, raising=False)
    monkeypatch.setenv("PATH", "")
    assert pdf.find_chromium() == "/usr/bin/chromium"


def test_the_missing_browser_message_says_where_it_looked_and_how_to_install(monkeypatch):
    monkeypatch.delenv(pdf.BROWSER_PATH, raising=False)
    message = pdf.no_browser_message()
    assert "chromium, chromium-browser, google-chrome in /usr/bin and on PATH" in message
    assert "report.pdf is not written" in message and "`apt-get install chromium`" in message
    monkeypatch.setenv(pdf.BROWSER_PATH, "")
    assert f"in {pdf.BROWSER_PATH}" in pdf.no_browser_message()


def test_a_failing_browser_is_one_clear_error_naming_the_page(tmp_path):
    page = tmp_path / "report.html"
    page.write_text("<p>hello</p>")
    browser = fake_browser(tmp_path / "bin", "chromium", "echo 'first line' >&2; echo 'cannot open display' >&2; "
                                                         "exit 3")
    with pytest.raises(InputError) as caught:
        pdf.print_pdf(page, tmp_path / "report.pdf", str(browser))
    assert str(caught.value) == (f"{page}: could not be printed to PDF with {browser} (exit 3: cannot open "
                                 "display)")
    assert not (tmp_path / "report.pdf").exists()


def test_a_browser_that_writes_no_pdf_or_hangs_is_an_error(tmp_path):
    page = tmp_path / "report.html"
    page.write_text("<p>hello</p>")
    quiet = fake_browser(tmp_path / "a", "chromium", "exit 0")
    with pytest.raises(InputError, match=r"could not be printed to PDF .*\(exit 0: no message\)"):
        pdf.print_pdf(page, tmp_path / "report.pdf", str(quiet))
    slow = fake_browser(tmp_path / "b", "chromium", "exec sleep 30")
    with pytest.raises(InputError, match=r"\(no PDF after 1 s\)"):
        pdf.print_pdf(page, tmp_path / "report.pdf", str(slow), timeout=1)


PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
@page { size: A4; margin: 20mm; @bottom-center { content: "page " counter(page) " of " counter(pages); } }
h1 { break-before: page; } h1:first-child { break-before: auto; }
</style><script>addEventListener('load', function () {
  if (location.hash === '#print') document.getElementById('view').textContent = 'laid out for print';
});</script></head><body><h1>First</h1><p id="view">screen</p><h1>Second</h1><p>&lt;b&gt;not bold&lt;/b&gt;</p>
<h1>Third</h1></body></html>"""


def test_a_page_prints_to_a4_with_page_x_of_y_and_its_print_view(tmp_path):
    browser = need_chromium()
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    out = pdf.print_pdf(page, tmp_path / "page.pdf", browser)
    reader = pypdf.PdfReader(out)
    assert len(reader.pages) == 3
    for page_ in reader.pages:
        assert float(page_.mediabox.width) == pytest.approx(A4[0], abs=1)
        assert float(page_.mediabox.height) == pytest.approx(A4[1], abs=1)
    texts = [p.extract_text() for p in reader.pages]
    assert [f"page {i} of 3" in t for i, t in enumerate(texts, 1)] == [True, True, True]
    assert "laid out for print" in texts[0]  # opened as #print, its load script ran before printing
    assert "<b>not bold</b>" in texts[1]
    assert [o["/Title"] for o in reader.outline] == ["First", "Second", "Third"]


def test_css_string_keeps_any_text_inside_the_string():
    assert css_string("Smart Cities Index 2022") == '"Smart Cities Index 2022"'
    quoted = css_string('a "b" </style><script>')
    assert quoted == '"a \\22 b\\22  \\3c \\2f style\\3e \\3c script\\3e "'
    assert "<" not in quoted and quoted.count('"') == 2


def test_an_interrupted_print_stops_the_browser_and_its_helpers(tmp_path):
    """Ctrl-C while waiting for the PDF: the browser runs in a process group of its own, so it is killed with
    every process it started rather than left printing."""
    pid = tmp_path / "helper.pid"
    browser = fake_browser(tmp_path / "bin", "chromium", f"sleep 60 &\necho $! > {pid}\nwait")
    page = tmp_path / "page.html"
    page.write_text("<p>a page</p>", encoding="utf-8")
    printing = pdf.Printing(page, tmp_path / "page.pdf", str(browser))
    real, calls = printing._process.communicate, []

    def interrupted(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            while not pid.exists() or not pid.read_text().strip():
                time.sleep(0.01)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    printing._process.communicate = interrupted
    with pytest.raises(KeyboardInterrupt):
        printing.wait()
    helper = int(pid.read_text())
    for _ in range(100):  # the helper the browser started is killed too (a zombie until the system reaps it)
        if not running(helper):
            break
        time.sleep(0.05)
    assert not running(helper)


def running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    stat_file = Path(f"/proc/{pid}/stat")
    if Path("/proc/self").exists():  # Linux: a zombie still answers os.kill
        try:
            return stat_file.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

