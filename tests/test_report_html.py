"""The fleet page: self-contained, right counts, relative links to per-host reports, and it
renders in a real browser (headless Chromium, when installed; skipped otherwise)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_report_fixtures import RUN, fleet, summary

from nscheck.options import ScanOptions
from nscheck.report import build_sinks, render
from nscheck.report.files import safe_name


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.cards: dict[str, str] = {}
        self._card: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "div" and "card" in (a.get("class") or ""):
            self._card = a.get("data-verdict")
        elif tag == "b" and self._card:
            self.stack.append((tag, a))

    def handle_data(self, data: str) -> None:
        if self.stack and self._card:
            self.cards[self._card] = data
            self.stack.clear()
            self._card = None


def page_of(text: str) -> Page:
    p = Page()
    p.feed(text)
    return p


def html_text(results=None) -> str:
    results = fleet() if results is None else results
    buf = io.StringIO()
    render(results, "html", buf, run=RUN, summary=summary(results))
    return buf.getvalue()


def test_self_contained_and_counts_right() -> None:
    results = fleet()
    text = html_text(results)
    p = page_of(text)
    for tag, attrs in p.tags:
        assert "src" not in attrs, tag
        href = attrs.get("href")
        assert href is None or ("://" not in href and not href.startswith("//")), href
        assert tag not in ("link", "iframe", "img", "object", "embed")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    counts = Counter(r.verdict.value for r in results)
    assert p.cards["total"] == str(len(results))
    for v, n in counts.items():
        assert p.cards[v] == str(n)
    host_rows = [a for t, a in p.tags if t == "tr" and "data-verdict" in a]
    assert len(host_rows) == len(results)
    # The bulletin chart is its table (a bar per row): no chart and identical table twice.
    assert text.count('class="bar"') == len({b.id for r in results for b in r.advisories if b.verdict.value == "vulnerable"})
    assert 'id="hosts"' in text and 'class="sortable"' in text and 'id="filter"' in text
    # "Act now" comes right after the counts, before any table.
    assert text.index('id="counts"') < text.index('id="act-now"') < text.index('id="hosts"')


def test_bulletins_and_trains() -> None:
    text = html_text()
    # CTX694938 hits two hosts (FIPS 13.1 and the compromised 13.1): the most common bulletin.
    bull = text[text.index('id="bulletins"'):]
    # Severity x hosts: 9.2 x 2 hosts before 9.3 x 1 host before 5.9 x 1 host.
    assert bull.index("CTX694938") < bull.index("CTX693420") < bull.index("CTX695486")
    row = bull[bull.index('data-bulletin="CTX694938"'):]
    row = row[:row.index("</tr>")]
    assert "CVE-2025-7775" in row and "9.2" in row and "KEV, in the wild" in row and "</span>2</td>" in row
    trains = text[text.index('id="trains"'):]
    trains = trains[:trains.index("</table>")]
    assert "13.1 FIPS" in trains and "upgrade to 13.1-37.246" in trains and "upgrade to 14.1-56.73" in trains
    assert '<td class="ok">14.1-73.41</td>' in trains and '<td class="below">14.1-43.50</td>' in trains


def test_sink_links_to_per_host_reports(tmp_path: Path) -> None:
    out = tmp_path / "hosts"
    page = tmp_path / "site" / "fleet.html"
    opts = ScanOptions(output_dir=str(out), html=str(page), no_progress=True)
    sinks = build_sinks(opts)
    results = fleet()
    for s in sinks:
        s.open(RUN)
    for r in results:
        for s in sinks:
            s.host(r)
    for s in sinks:
        s.close(summary(results))
    p = page_of(page.read_text())
    hrefs = [a["href"] for t, a in p.tags if t == "a"]
    for h in hrefs:
        assert h.startswith("../hosts/") and (page.parent / h).resolve().is_file()
    for r in results:  # every host: its own page (the row links to it), its Markdown and JSON
        for ext in (".html", ".md", ".json"):
            assert f"../hosts/{safe_name(r.target, r.url)}{ext}" in hrefs
    # Each host page links back to the fleet page.
    host_page = (out / f"{safe_name(results[0].target, results[0].url)}.html").read_text()
    assert 'href="../site/fleet.html"' in host_page


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but headless Chromium is not installed: the browser tests must run in CI")
        pytest.skip("headless Chromium not installed")
    page = tmp_path / "fleet.html"
    page.write_text(html_text())
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    p = page_of(dom.stdout)
    assert len([a for t, a in p.tags if t == "tr" and "data-verdict" in a]) == len(fleet())
    assert any(a.get("id") == "act-now" for _, a in p.tags)
    shot = tmp_path / "shot.png"
    r = subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_act_now_assessment_line_gives_the_triage_command() -> None:
    import dataclasses

    r = fleet()[0]  # vulnerable to an exploited bulletin whose actions include a forensic step
    doc = {"id": "nsf-x", "kind": "assessment", "rule_id": "compromise-assessment-required", "host": "h",
           "status": "open", "transition": "unchanged"}
    adv = dataclasses.replace(r.advisories[0], actions=("Forensic triage; CTX694799 steps if compromise suspected",))
    r = dataclasses.replace(r, advisories=(adv, *r.advisories[1:]), extra={"assessments": [doc], "state": {"host_key": "gw1.example.test:443"}})
    text = html_text([r])
    act = text[text.index('id="act-now"'):text.index("</section>")]
    assert "nscheck</span> <span class=\"nw\">triage</span>" in act and "ARTEFACTS" in act
