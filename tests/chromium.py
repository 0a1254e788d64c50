"""Open an HTML file in real headless Chromium and read back what it rendered (test helpers).

Chromium is Debian's ``chromium`` (``.ci/run`` installs it). Without it the tests that need it
are skipped with the reason, unless ``SNNPRIV_REQUIRE_CHROMIUM=1`` (CI), which fails them.

:func:`rendered` loads a copy of the page with a probe script appended; after the page's load
event the probe writes, into the DOM that ``--dump-dom`` prints, the title, every table's
cells and every image's natural size as decoded by the browser. The page itself is unchanged.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REQUIRE_VARIABLE = "SNNPRIV_REQUIRE_CHROMIUM"
#: Headless, offline, no profile: the flags every call uses.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
PROBE = """<script>
window.addEventListener("load", () => {
  const cells = t => [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()));
  const out = {
    title: document.title,
    headings: [...document.querySelectorAll("h2")].map(h => h.innerText.trim()),
    tables: [...document.querySelectorAll("table")].map(cells),
    images: [...document.images].map(i => ({alt: i.alt, complete: i.complete,
                                            width: i.naturalWidth, height: i.naturalHeight})),
    external: [...document.querySelectorAll("[src],link[href]")]
      .map(e => e.getAttribute("src") || e.getAttribute("href"))
      .filter(u => !u.startsWith("data:")),
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    """The Chromium executable; skips (or fails, when required) without one."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "no chromium on PATH (apt-get install -y chromium)"
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_VARIABLE}=1")
        pytest.skip(reason)
    return found


def run(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium on ``page`` with :data:`FLAGS`, a fresh profile and ``args``."""
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def rendered(page: Path, tmp_path: Path) -> dict[str, Any]:
    """What Chromium rendered of ``page``: title, h2 headings, tables' cells, images' sizes."""
    probe = tmp_path / f"probed-{page.name}"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = run(probe, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom").stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; Chromium printed: {dom[:500]}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, out: Path, profile: Path, size: str = "1280,2000") -> Path:
    """A PNG screenshot of ``page`` at ``size`` (width,height)."""
    run(page, profile, f"--window-size={size}", f"--screenshot={out}")
    return out


def assert_decoded(images: list[dict[str, Any]], least: int = 300) -> None:
    """Every image was decoded by the browser, at least ``least`` pixels wide and high."""
    assert images, "no images"
    for image in images:
        assert image["complete"], image
        assert image["width"] >= least, image
        assert image["height"] >= least, image
