"""The HTML report opened in a real headless Chromium: every plot decodes, the tables render, no console error.

The page is the report as written, with one probe script put first in its <head>: it records
errors (script errors, resources that fail to load, ``console.error``) from the first moment, and at
the load event writes what the browser made of the page into a ``<pre id="probe">`` that
``--dump-dom`` prints. Debian's ``chromium`` package provides the browser (``.ci/run`` installs it);
without it the test is skipped and says so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from results.report import write_report
from results.schema import validate_record

from .conftest import make_record

PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => __errors.push(String(e.message || (e.target && (e.target.src || "").slice(0, 40))
                                                   || "error")), true);
window.addEventListener("unhandledrejection", e => __errors.push("unhandled rejection: " + e.reason));
const __consoleError = console.error;
console.error = (...a) => { __errors.push(a.join(" ")); __consoleError(...a); };
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth,
                                                  shown: i.getBoundingClientRect().width}));
  const tables = [...document.querySelectorAll("table")].map(t => ({rows: t.rows.length,
      cells: t.querySelectorAll("td").length, width: t.getBoundingClientRect().width}));
  const lines = td => { const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length; };
  const wrapped = [...document.querySelectorAll("td.n")].filter(td => lines(td) > 1).map(td => td.textContent);
  const overflow = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({images, tables, wrapped, overflow, short: document.querySelectorAll("td.n").length,
                                      errors: __errors});
  document.body.appendChild(probe);
});
</script>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _open(page: Path, profile: Path, browser: str) -> tuple[dict, str]:
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-extensions", "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no probe in the dumped DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(text), done.stderr


def test_html_report_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium here (install Debian's 'chromium' package: apt-get install chromium)")
    raw = make_record(release="v1.2", seed=3, cpu_wait={"int8": 0.62}, kind="video", gaps=True, n=300)
    base = validate_record(make_record(release="v1.1", seed=2, kind="video", gaps=True, n=300), "base")
    from results.compare import compare

    record = validate_record(raw, "record")
    files = write_report([(record, compare(base, record))], tmp_path / "out")
    html = files.html.read_text()
    images_in_source = html.count("<img ")
    tables_in_source = html.count("<table>")
    assert tables_in_source == html.count('<div class="wide"><table>')
    assert images_in_source == len(files.images) >= 4 and tables_in_source >= 3

    probe_page = tmp_path / "probed.html"
    probe_page.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    seen, stderr = _open(probe_page, tmp_path / "profile", browser)

    assert len(seen["images"]) == images_in_source
    assert all(i["complete"] and i["width"] > 0 and i["shown"] > 0 for i in seen["images"]), seen["images"]
    assert len(seen["tables"]) == tables_in_source
    assert all(t["rows"] > 1 and t["cells"] > 0 and t["width"] > 0 for t in seen["tables"]), seen["tables"]
    # numbers, intervals and names stay on one line (a table wider than the window scrolls in its own box);
    # the page itself never scrolls sideways
    assert seen["short"] > 20 and seen["wrapped"] == [] and seen["overflow"] <= 0, (seen["wrapped"], seen["overflow"])
    assert seen["errors"] == []
    assert not [line for line in stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
