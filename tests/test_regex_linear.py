"""Rule regexes run in linear time on hostile input (issue 12.6).

Two halves: the conservative analyser the loaders use (``problems``) must reject the shapes that
are quadratic and accept the shapes nscheck's rules are written in; and every regex nscheck ships
(triage rules: regexes, allowlist, ignore, require; remote indicator page patterns) is run on
adversarial 100 KB and 1 MB lines built from its own words, asserting growth far below quadratic.
The growth assertion compares the time for one 1 MB line with ten 100 KB lines (the same bytes):
linear is ~1, quadratic ~10. No absolute time is asserted (bench/ measures speed).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from nscheck.paths import signatures_dir
from nscheck.signatures import SignatureError
from nscheck.signatures._regex_lint import problems
from nscheck.signatures.indicators import load as load_indicators
from nscheck.signatures.triage import load as load_triage

try:
    import re._constants as C
    import re._parser as P
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

FLAGS = re.IGNORECASE | re.MULTILINE

# Shapes seen in nscheck's own rules before issue 12.6, each quadratic (or worse) on a long line.
MUST_REJECT = [
    r"(a+)+b",  # nested
    r"\bnc(at)?\s+(\S+\s+)*-[a-z]*e\s",  # nested (shell-history nc -e)
    r"on\w+\s*=\s*.*location\.(href|assign)",  # adjacent \s*.* (portal_exfil)
    r"<script[^>]+src=",  # unguarded: [^>] swallows the next '<script'
    r"<plugin[^>]+src=",
    r"add\s+responder\s+policy\s+.*https?://",  # ns.conf '.*'
    r"[.:](18634|37512)\s.*(LISTEN|\*[.:]\*)",  # collector listeners
    r"\bUser\s+(?P<user>.+?)\s+-\s+(?:Client_ip|Source)\b",  # TCPCONNSTAT user
    r"pitboss.*ppe.*(unexpectedly.*died).*nsppe.*(;|`)",  # Elastic R-ELA as written
    r"(GET|POST)\s[^\s]*/vpns/[^\s]*\.xml",  # two runs of one class around a literal
    r"\(file=[^)]*\)",  # the run can contain the next '(file='
    r"^\s*#",  # \s crosses newlines: every line start rescans a run of blank lines
    r"x{1,100000}y",  # a bound so large it is no bound
    r"\b(curl|wget)\b(?=.*https?://)",  # unbounded lookahead from every start
]

# Linear shapes the rules use, which the analyser must accept.
MUST_ACCEPT = [
    r"\$\{IFS\}",
    r"\(file=[^()\n]*\)",  # the run stops at the next start
    r"<script[^<>]*?src=[\"'](https?://[a-z0-9\[]|data:|blob:)[^\"'>\s]*",
    r"^(?>[^\n]*?CMD_EXECUTED)(?>[^\n]*?Command)\s+\"[^\n]*?\b(?P<hit>NO_AUTH)\b",  # line-anchored, atomic gaps
    r"^[ \t]*#[ \t]*Require\s+all\s+denied",
    r"\bINDEX:[A-Za-z0-9+/]{16,}={0,2}",  # trailing run: nothing after it must match
    r"(^|\s)/var/tmp/\S+",
    r"add\s+responder\s+policy\s[^\n]{0,4096}?https?://[^\s\"\\]+",  # bounded gap
    r"\bnc(at)?\s{1,4}(-\w{1,16}\s{1,4}){0,6}-[a-z]{0,8}l",
    r"^/(logon|vpn)/.*\.(php[0-9]?|phtml)$",  # one start per line: '.' cannot cross the newline
]


@pytest.mark.parametrize("pattern", MUST_REJECT)
def test_analyser_rejects_quadratic_shapes(pattern):
    assert problems(pattern, FLAGS), pattern


@pytest.mark.parametrize("pattern", MUST_ACCEPT)
def test_analyser_accepts_linear_shapes(pattern):
    assert problems(pattern, FLAGS) == [], pattern


def test_triage_loader_refuses_a_slow_regex_with_file_and_line(tmp_path: Path):
    sig = tmp_path / "sig"
    (sig / "triage" / "yara").mkdir(parents=True)
    (sig / "triage" / "r.yaml").write_text(
        "schema: nscheck.triage-rules/1\nrules:\n  - id: T-1\n    check: ns_conf\n    title: t\n"
        "    paths: [/nsconfig/ns.conf]\n    regexes: ['add\\s+responder\\s+policy\\s+.*https?://']\n")
    with pytest.raises(SignatureError) as e:
        load_triage(sig)
    assert "r.yaml:7" in str(e.value) and "not linear" in str(e.value)


def test_indicator_loader_refuses_a_slow_pattern(tmp_path: Path):
    import shutil

    sig = tmp_path / "sig"
    shutil.copytree(signatures_dir(None) / "indicators", sig / "indicators")
    (sig / "indicators" / "zz_slow.yaml").write_text(
        "rules:\n  - id: T-SLOW-1\n    title: t\n    check: portal_exfil\n    severity: high\n    confidence: low\n"
        "    references: [x]\n    advice: a\n    page:\n      in: [inline_script]\n"
        "      pattern: 'on\\w+\\s{0,3}=[^<]+location'\n")
    with pytest.raises(SignatureError) as e:
        load_indicators(sig)
    assert "zz_slow.yaml" in str(e.value) and "not linear" in str(e.value)


# -- every shipped pattern on adversarial lines -----------------------------------------------

def _shipped() -> list[tuple[str, str]]:
    sd = signatures_dir(None)
    out: dict[str, str] = {}
    for r in load_triage(sd).rules:
        for kind in ("regexes", "allowlist", "ignore", "require"):
            for rx in getattr(r, kind):
                out.setdefault(rx.pattern, f"{r.id} {kind}")
    for pr in load_indicators(sd).page_rules:
        if pr.pattern is not None:
            out.setdefault(pr.pattern.pattern, pr.id)
    return sorted((who, p) for p, who in out.items())


def _runs(seq, out: list[str]) -> list[str]:
    cur: list[str] = []
    for op, av in seq:
        if op is C.LITERAL:
            cur.append(chr(av))
            continue
        if cur:
            out.append("".join(cur))
            cur = []
        if op is C.SUBPATTERN:
            _runs(av[-1], out)
        elif op is C.BRANCH:
            for alt in av[1]:
                _runs(alt, out)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            _runs(av[2], out)
        elif op in (C.ASSERT, C.ASSERT_NOT):
            _runs(av[1], out)
        elif op is getattr(C, "ATOMIC_GROUP", None):
            _runs(av, out)
    if cur:
        out.append("".join(cur))
    return out


def _candidates(pattern: str) -> list[str]:
    """Units that, repeated, make a line hard for this pattern: its own words (so every position
    starts a match attempt), all its words in order without the last (near misses), and single
    characters that classes and anchors care about."""
    words = [w for w in _runs(list(P.parse(pattern, FLAGS)), []) if w]
    c = {w + s for w in words for s in ("", " ", "x", "/")}
    if words:
        c |= {"".join(words), " ".join(words), "".join(words[:-1]), " ".join(words[:-1]) + " "}
    c |= set("a <>(/\"'=:.-\t\n")
    return sorted(x for x in c if x)


def _line(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def _time(rx: re.Pattern[str], lines: list[str]) -> float:
    t0 = time.perf_counter()
    for s in lines:
        for _m in rx.finditer(s):
            pass
    return time.perf_counter() - t0


SHIPPED = _shipped()


def test_every_shipped_pattern_is_accepted_by_the_analyser():
    bad = {p: problems(p, FLAGS) for _who, p in SHIPPED}
    assert not {p: v for p, v in bad.items() if v}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_shipped_pattern_grows_linearly_on_adversarial_lines():
    worst: list[tuple[float, str, str, str]] = []
    for who, pattern in SHIPPED:
        rx = re.compile(pattern, FLAGS)
        # the hardest unit for this pattern, chosen on 5 KB
        unit = max(_candidates(pattern), key=lambda u: _time(rx, [_line(u, 5_000)]))
        big = [_line(unit, 1_000_000)]
        small = [_line(unit, 100_000)] * 10  # the same number of bytes as one 1 MB line
        ratio = None
        for _attempt in range(3):  # best of 3, measured only when the first looks bad (load noise)
            r = _time(rx, big) / max(_time(rx, small), 1e-9)
            ratio = r if ratio is None else min(ratio, r)
            if ratio < 2.5:
                break
        worst.append((ratio, who, pattern, unit))
    worst.sort(reverse=True)
    # linear: ~1 (one 1 MB line costs what ten 100 KB lines cost); quadratic: ~10
    assert worst[0][0] < 4, [(round(r, 1), who, p[:80], u[:20]) for r, who, p, u in worst[:5]]
