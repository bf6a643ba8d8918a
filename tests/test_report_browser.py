"""The HTML pages in a real browser: headless Chromium at 1366x768 (a common laptop screen).

"Act now" must be on the first screen, the first host row must be the most urgent host, sorting
and the filter must work, the host table must fit 1366 px (no horizontal scroll, headers on one
line) and the per-host page must show the verdict and what to do first. Screenshots are saved as
test artefacts (``tmp/artefacts/`` or ``$NSCHECK_ARTEFACTS``) for a human to look at.

Chromium comes from Debian (``apt-get install chromium``, done by ``.ci/run``). Without it these
tests skip on a developer machine and FAIL when ``CI`` is set: in CI they must really run.

Layout facts are read by a small probe script the test appends to its own copy of the page (the
page allows inline scripts; nothing is fetched), which writes them into ``data-*`` attributes of
``<body>``; ``--dump-dom`` then returns them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_report_fixtures import RUN, fleet, summary

from nscheck.options import ScanOptions
from nscheck.report import build_sinks
from nscheck.report.files import safe_name
from nscheck.report.order import sort_results

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)
ARTEFACTS = Path(os.environ.get("NSCHECK_ARTEFACTS") or Path(__file__).resolve().parent.parent / "tmp" / "artefacts")
W, H = 1366, 768


@pytest.fixture(scope="module")
def browser() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but headless Chromium is not installed (apt-get install -y chromium): the browser "
                        "tests must run in CI")
        pytest.skip("headless Chromium not installed (apt-get install chromium); CI runs these")
    return CHROMIUM


def run_chromium(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
             "--hide-scrollbars", f"--window-size={W},{H}", f"--user-data-dir={tmp / 'profile'}"]
    r = subprocess.run([*flags, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


PROBE = """
<script>
(function(){
var d=document.body.dataset, q=function(s){return document.querySelector(s)};
function box(el){if(!el)return null;var r=el.getBoundingClientRect();return {top:r.top,bottom:r.bottom,width:r.width,height:r.height};}
var info={vw:innerWidth,vh:innerHeight,scrollWidth:document.documentElement.scrollWidth};
info.act=box(q('#act-now')); info.firstAct=box(q('#act-now .act b')); info.todo=box(q('#todo')); info.verdict=box(q('#verdict'));
info.firstTodo=box(q('#todo li'));
var t=q('#hosts');
if(t){info.table=box(t);
 info.headers=Array.from(t.tHead.rows[0].cells).map(function(th){var cs=getComputedStyle(th);
   return {text:th.textContent, height:th.getBoundingClientRect().height, line:parseFloat(cs.lineHeight)||20,
           sortable:th.classList.contains('sortable'), cursor:cs.cursor, sort:th.getAttribute('aria-sort')};});
 var cell=t.tBodies[0].rows[0].cells[0], cs=getComputedStyle(cell);
 info.wrap={overflowWrap:cs.overflowWrap, wordBreak:cs.wordBreak};
 info.order=Array.from(t.tBodies[0].rows).map(function(r){return r.cells[0].textContent.trim()});
 info.visible=Array.from(t.tBodies[0].rows).filter(function(r){return r.style.display!=='none'}).map(function(r){return r.cells[0].textContent.trim()});
 info.shown=(q('#shown')||{}).textContent;
 if(location.hash.indexOf('click=')>=0){var col=location.hash.split('click=')[1].split('&')[0];
   var th=t.querySelector('th[data-col="'+col+'"]'); th.click(); info.afterClick=Array.from(t.tBodies[0].rows).map(function(r){return r.cells[0].textContent.trim()});
   info.clickSort=th.getAttribute('aria-sort'); th.click(); info.afterSecondClick=Array.from(t.tBodies[0].rows).map(function(r){return r.cells[0].textContent.trim()});}
}
d.probe=JSON.stringify(info);
})();
</script>
"""


class _Body(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.probe: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.probe = dict(attrs).get("data-probe")


def probe(browser: str, tmp: Path, page: Path, fragment: str = "") -> dict:
    """Load a copy of ``page`` with the probe appended; return what the probe measured."""
    copy = page.with_name(page.stem + ".probe.html")
    copy.write_text(page.read_text().replace("</body></html>", PROBE + "</body></html>"))
    dom = run_chromium(browser, tmp, "--dump-dom", copy.as_uri() + fragment).stdout
    p = _Body()
    p.feed(dom)
    assert p.probe, "the probe did not run: " + dom[-500:]
    return json.loads(p.probe)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture fleet written as a scan writes it: fleet page plus per-host pages."""
    root = tmp_path_factory.mktemp("site")
    opts = ScanOptions(output_dir=str(root / "hosts"), html=str(root / "fleet.html"), no_progress=True)
    sinks = build_sinks(opts)
    for s in sinks:
        s.open(RUN)
    for r in reversed(fleet()):  # arrival order is not the page's order
        for s in sinks:
            s.host(r)
    for s in sinks:
        s.close(summary(fleet()))
    return root


def screenshot(browser: str, tmp: Path, page: Path, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / name
    run_chromium(browser, tmp, f"--screenshot={shot}", page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    return shot


def test_fleet_page_first_screen(browser: str, site: Path, tmp_path: Path) -> None:
    info = probe(browser, tmp_path, site / "fleet.html")
    # The viewport of a 1366x768 window (the browser's own bars take some of the height).
    fold = info["vh"]
    assert info["vw"] == W and 600 <= fold <= H
    # "Act now" starts on the first screen, and its first compromised host is fully on it.
    assert info["act"]["top"] < fold / 2, info["act"]
    assert info["firstAct"]["bottom"] < fold, info["firstAct"]
    # The first table row is the most urgent host.
    urgent = [r.target for r in sort_results(fleet())]
    assert info["order"] == urgent
    assert info["shown"] == f"{len(urgent)} of {len(urgent)} hosts"
    # The table fits 1366 px: no horizontal scrolling, every header on one line, sortable ones say so.
    assert info["scrollWidth"] <= W and info["table"]["width"] <= W
    for h in info["headers"]:
        assert h["height"] < 2 * h["line"], h
        if h["sortable"]:
            assert h["cursor"] == "pointer" and h["sort"] == "none", h
    assert info["wrap"]["overflowWrap"] != "anywhere" and info["wrap"]["wordBreak"] not in ("break-all",)
    screenshot(browser, tmp_path, site / "fleet.html", "fleet-1366x768.png")


def test_fleet_page_sorts_and_filters(browser: str, site: Path, tmp_path: Path) -> None:
    names = sorted(r.target for r in fleet())
    info = probe(browser, tmp_path, site / "fleet.html", "#sort=host&dir=asc")
    assert info["order"] == sorted(names, key=str.lower)
    assert next(h for h in info["headers"] if h["text"] == "host")["sort"] == "ascending"
    info = probe(browser, tmp_path, site / "fleet.html", "#sort=host&dir=desc")
    assert info["order"] == sorted(names, key=str.lower, reverse=True)
    # A click on a heading sorts by it; a second click reverses.
    info = probe(browser, tmp_path, site / "fleet.html", "#click=host")
    assert info["clickSort"] == "ascending" and info["afterClick"] == sorted(names, key=str.lower)
    assert info["afterSecondClick"] == sorted(names, key=str.lower, reverse=True)
    # The filter keeps the matching rows only.
    info = probe(browser, tmp_path, site / "fleet.html", "#q=gw3")
    assert info["visible"] == ["gw3.example.test"] and info["shown"] == f"1 of {len(names)} hosts"
    info = probe(browser, tmp_path, site / "fleet.html", "#q=vulnerable")
    assert set(info["visible"]) >= {"gw1.example.test", "10.0.0.7"} and "www.example.test" not in info["visible"]


def test_per_host_page_first_screen(browser: str, site: Path, tmp_path: Path) -> None:
    r = next(x for x in fleet() if x.target == "gw3.example.test")
    page = site / "hosts" / f"{safe_name(r.target, r.url)}.html"
    assert page.is_file()
    info = probe(browser, tmp_path, page)
    fold = info["vh"]
    assert info["verdict"]["top"] < fold / 3 and info["todo"]["top"] < fold / 2 and info["firstTodo"]["bottom"] < fold
    assert info["scrollWidth"] <= W
    screenshot(browser, tmp_path, page, "host-compromised-1366x768.png")
