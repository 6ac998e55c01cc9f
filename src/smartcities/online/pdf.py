"""The printed report: the report page printed to an A4 PDF by headless Chromium.

The page lays itself out for print: its @page rules give the A4 size, the running head and "page X of Y", and a
`beforeprint` script gives every chart its fixed print size and gathers each city's page. So printing is one
browser run, with no Python dependency of its own; where no browser is found the caller says so and writes the rest.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ..errors import InputError

BROWSER_PATH = "SMARTCITIES_BROWSER_PATH"
"""Environment variable: the folders (os.pathsep-separated) searched for the browser instead of /usr/bin and PATH;
empty means none, so no browser is found."""
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "apt-get install chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
         "--generate-pdf-document-outline")
PRINT_VIEW = "#print"
"""The page's address suffix that has it lay itself out for print as soon as it loads (see the report's script)."""
SCRIPT_BUDGET_MS = 10_000
"""Virtual time the page's scripts get before printing: time passes at once while the page is idle, so this only
bounds a page that keeps timers running."""


def find_chromium() -> str | None:
    """The browser to print with: chromium, chromium-browser or google-chrome in /usr/bin, then on PATH (or in the
    folders SMARTCITIES_BROWSER_PATH lists, when it is set). None when there is none."""
    search = os.environ.get(BROWSER_PATH)
    if search is None:
        search = os.pathsep.join(["/usr/bin", os.environ.get("PATH", "")])
    for name in BROWSERS:
        found = shutil.which(name, path=search)
        if found:
            return found
    return None


def no_browser_message() -> str:
    where = BROWSER_PATH if os.environ.get(BROWSER_PATH) is not None else "/usr/bin and on PATH"
    return (f"no Chromium was found (looked for {', '.join(BROWSERS)} in {where}), so report.pdf is not written; "
            f"install it with `{INSTALL}`")


class Printing:
    """A print under way in its own browser process, so the caller writes other files meanwhile; `wait()` gives
    the PDF, or an InputError naming the page when printing failed; `cancel()` stops it."""

    def __init__(self, page: Path, pdf: Path, browser: str, timeout: float = 600):
        self.page, self.pdf, self.browser, self.timeout = Path(page).resolve(), Path(pdf).resolve(), browser, timeout
        self._profile = tempfile.TemporaryDirectory(prefix="smartcities-chromium-")
        command = [browser, *FLAGS, f"--user-data-dir={self._profile.name}",
                   f"--virtual-time-budget={SCRIPT_BUDGET_MS}", f"--print-to-pdf={self.pdf}",
                   self.page.as_uri() + PRINT_VIEW]
        try:
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                             start_new_session=True)  # its own group: stopped with its helpers
        except OSError as err:
            self._profile.cleanup()
            raise self._failed(str(err)) from err

    def wait(self) -> Path:
        try:
            _, stderr = self._process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired as err:
            self._stop()
            raise self._failed(f"no PDF after {self.timeout:.0f} s") from err
        except BaseException:  # interrupted: the browser, in a group of its own, would print on
            self._stop()
            raise
        finally:
            self._profile.cleanup()
        code = self._process.returncode
        if code != 0 or not self.pdf.is_file() or self.pdf.read_bytes()[:5] != b"%PDF-":
            last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "no message")
            raise self._failed(f"exit {code}: {last}")
        return self.pdf

    def cancel(self) -> None:
        """Stop the print at once (writing the other files failed): the browser is killed, its profile removed."""
        self._stop()
        self._profile.cleanup()

    def _stop(self) -> None:
        """Kill the browser and every process it started (they would hold its output open), and reap it."""
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:  # gone already
            pass
        self._process.communicate()

    def _failed(self, why: str) -> InputError:
        return InputError.single(self.page, f"could not be printed to PDF with {self.browser} ({why})")


def print_pdf(page: Path, pdf: Path, browser: str, timeout: float = 600) -> Path:
    """Print the HTML file `page` to `pdf` with `browser` and wait for it."""
    return Printing(page, pdf, browser, timeout).wait()
