"""Strings that come from a server are hostile: newlines, ANSI escapes, pipes, HTML, huge headers.
None of them may break a JSON line, a CSV row, a terminal table, a Markdown table or the page."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from html.parser import HTMLParser

from test_report_fixtures import OBSERVER, RUN, fleet, summary

from nscheck.model import Confidence, Evidence, Indicator, Severity
from nscheck.report import render
from nscheck.report.markdown import host_markdown

EVIL = "line1\nline2\r\n\x1b[31mRED\x1b[0m | pipe | <script>alert(1)</script> <img src=http://x/> [x](http://e) \u2028end"
BIG = "X-Big: " + "A" * 10_000


def hostile_fleet():
    results = fleet()
    r = results[0]
    adv = dataclasses.replace(r.advisories[0], title=EVIL, reason=EVIL + BIG, id="CTX693420")
    ind = Indicator("evil|rule\n", EVIL, Severity.HIGH, Confidence.LOW, BIG + EVIL, url="https://gw1.example.test/<x>|y",
                    advice=EVIL)
    prod = dataclasses.replace(r.product, roles=("gateway", EVIL),
                               evidence=(Evidence("header", BIG, "https://gw1.example.test/\n<b>"),))
    evil = dataclasses.replace(r, target="evil|<b>host</b>\n\x1b[2J", error=EVIL, advisories=(adv, *r.advisories[1:]),
                               indicators=(ind,), product=prod)
    return [evil, *results[1:]]


def rendered(fmt: str) -> str:
    results = hostile_fleet()
    buf = io.StringIO()
    render(results, fmt, buf, run=RUN, summary=summary(results), observer_hostname=OBSERVER, color=False)
    return buf.getvalue()


def test_no_control_characters_reach_any_format() -> None:
    for fmt in ("table", "md", "csv", "html", "jsonl"):
        out = rendered(fmt)
        assert "\x1b" not in out, fmt
        assert "\r" not in out, fmt
        assert "\u2028" not in out, fmt


def test_jsonl_one_document_per_line() -> None:
    lines = rendered("jsonl").split("\n")
    assert lines[-1] == ""
    docs = [json.loads(x) for x in lines[:-1]]
    assert len(docs) == len([d for d in docs if isinstance(d, dict)])
    host = next(d for d in docs if d["event"]["dataset"] == "nscheck.host" and "evil" in d["nscheck"]["target"])
    assert "\n" not in host["message"] and len(host["message"]) <= 1000
    # The complete, untouched host object survives inside (JSON escapes it).
    assert host["nscheck"]["result"]["error"] == EVIL


def test_csv_rows_stay_rows() -> None:
    text = rendered("csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(text.splitlines()) == len(rows)  # no cell spans lines
    assert len({len(r) for r in rows}) == 1
    evil = [r for r in rows if r[0].startswith("evil")]
    assert evil and all(len(c) <= 1000 for r in evil for c in r)


def test_csv_formula_cells_are_neutralised() -> None:
    r = dataclasses.replace(fleet()[5], target="=HYPERLINK(\"http://e\")", error="@SUM(A1)")
    buf = io.StringIO()
    render([r], "csv", buf, run=RUN, summary=summary([r]))
    row = list(csv.reader(io.StringIO(buf.getvalue())))[1]
    assert row[0].startswith("'=") and row[-1].startswith("'@")


def test_terminal_table_keeps_its_shape() -> None:
    out = rendered("table")
    lines = out.splitlines()
    rule = next(n for n, x in enumerate(lines) if x.startswith("─"))
    body = lines[rule - 1: rule + 1 + len(hostile_fleet())]  # header, rule, one line per host
    assert len({len(x) for x in body}) == 1  # every row line has the same width: nothing broke out of a cell
    assert sum(1 for x in lines if x.startswith("evil|<b>host</b>")) == 1  # the hostile host is one line
    assert "[31m" not in out and "[2J" not in out and "<b>host</b>" in out  # text shown as text, escapes gone


def _md_table_rows(md: str) -> list[list[str]]:
    rows = []
    for line in md.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            rows.append(cells)
    return rows


def test_markdown_tables_keep_their_columns() -> None:
    md = host_markdown(hostile_fleet()[0])
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            current.append(re.split(r"(?<!\\)\|", line)[1:-1])
        elif current:
            tables.append(current)
            current = []
    assert len(tables) >= 3
    for t in tables:
        assert len({len(r) for r in t}) == 1, t[0]
    # Neutralised with Markdown's own backslash escapes or code spans, never HTML entities.
    assert re.search(r"(?<![\\`])<script>", md) is None and "\\<script\\>" in md and "&lt;" not in md
    assert re.search(r"(?<![\\`])\[x\]\(", md) is None and "\\[x\\](" in md  # no live links smuggled in
    assert md.startswith("# nscheck: evil\\|\\<b\\>host\\</b\\>")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_page_gets_no_new_elements() -> None:
    page = rendered("html")
    p = _Tags()
    p.feed(page)
    plain = io.StringIO()
    res = fleet()
    # The same kinds of data, harmless: an error and one low-confidence indicator hit.
    plain_hit = Indicator("plain-rule", "plain", Severity.HIGH, Confidence.LOW, "plain", url="https://gw1.example.test/y",
                          advice="plain advice")
    res[0] = dataclasses.replace(res[0], error="plain error", indicators=(plain_hit,))
    render(res, "html", plain, run=RUN, summary=summary(res))
    q = _Tags()
    q.feed(plain.getvalue())
    # Same elements as the page built from harmless results: the hostile text added none.
    # (<wbr> are the page's own line-break hints after '/' or '.', added to escaped text.)
    assert [t for t, _ in p.tags if t != "wbr"] == [t for t, _ in q.tags if t != "wbr"]
    assert not any(k == "src" or (k == "href" and (v or "").startswith(("http", "//"))) for _, a in p.tags for k, v in a.items())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_host_page_gets_no_new_elements() -> None:
    from nscheck.report.hostpage import host_html

    evil = hostile_fleet()[0]
    res = fleet()
    plain_hit = Indicator("plain-rule", "plain", Severity.HIGH, Confidence.LOW, "plain", url="https://gw1.example.test/y",
                          advice="plain advice")
    plain = dataclasses.replace(res[0], error="plain error", indicators=(plain_hit,))
    p, q = _Tags(), _Tags()
    p.feed(host_html(evil))
    q.feed(host_html(plain))
    assert [t for t, _ in p.tags if t != "wbr"] == [t for t, _ in q.tags if t != "wbr"]
    page = host_html(evil)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page and "\u2028" not in page
