"""Issue 12: a hostile appliance attacks the scanner itself (loopback servers only).

Server content is parsed in linear time (one host cannot freeze the event loop for the others),
an https port that answers in plain HTTP never downgrades a --verify / -H scan, redirects never
carry userinfo, a proxy's 407 is an error, and proxy passwords never reach any output."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from nscheck.fingerprint.methods import _epa_plugin

lab_mod = pytest.importorskip("nscheck.lab")
from nscheck.lab.profiles import Profile  # noqa: E402

FLOOD = "<plugin " + "a" * 60_000 + ">"  # ~60 KB of attribute-name characters, no "=": the worst case


def _scan(args: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    from nscheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(["scan", *args])
    code = ex.value.code if isinstance(ex.value.code, int) else 0
    return code, (json.loads(out.getvalue()) if out.getvalue().strip() else []), err.getvalue()


def test_plugin_parser_keeps_its_answers() -> None:
    xml = ('<repository><plugins/><plugin path="/x" version=\'25.5.1.15\' NAME="NetScaler Gateway EPA plug-in for '
           'Linux"/><plugin name="Netscaler Gateway EPA plug-in for Mac" version="26.1.1.3"></repository>')
    assert _epa_plugin(xml) == ("NetScaler Gateway EPA plug-in for Linux", "25.5.1.15")
    assert _epa_plugin('<PLUGIN version="1" name=\'Netscaler Gateway EPA plug-in\'>') == (
        "Netscaler Gateway EPA plug-in", "1")
    assert _epa_plugin('<plugin name="Other" version="1"><plugin name="x') is None
    # hostile shapes end at once with no answer: no closing quote, no closing bracket, floods
    for text in (FLOOD, "<plugin " * 20_000, '<plugin a="' + "a=\"" * 20_000 + ">", "<plugin a=" * 20_000 + ">"):
        assert _epa_plugin(text) is None


@pytest.mark.lab
def test_plugin_flood_on_one_host_does_not_stall_the_others() -> None:
    """The flood used to cost ~26 s of regex backtracking inside the event loop, so every other
    host of the scan ended with "host deadline reached". The deadline is generous for a loaded
    machine; what is asserted is that the good hosts get their verdicts, not how fast."""
    profiles = [
        Profile("gw-plugin-flood", build="14.1-73.37", roles=("gateway",),
                options={"rdx": "absent", "pluginlist_body": FLOOD}),
        *[Profile(f"gw-good-{i}", build=b, roles=("gateway",)) for i, b in enumerate(("14.1-43.50", "13.1-58.21",
                                                                                     "14.1-73.37"))],
    ]
    with lab_mod.start_lab(profiles, latency_ms=20) as lab:
        code, docs, err = _scan([*lab.target_urls, "--format", "json", "--no-indicators", "--timeout", "5",
                                 "--host-deadline", "10", "--retries", "0", "-c", "8"])
        flood_reqs = lab.requests_for("gw-plugin-flood")
    assert code in (0, 1), err
    assert any(path == "/vpn/pluginlist.xml" for _m, path in flood_reqs), flood_reqs  # the flood was read
    by = {d["target"]: d for d in docs}
    for t in lab.targets:
        d = by[t.url]
        assert d["status"] == "ok", (t.name, d["error"])
        assert d["product"]["is_netscaler"] is True
    assert all("deadline" not in (d.get("error") or "") for d in docs)
