"""'What to do' as a reader needs it: each step once, a sentence, for this host's train, without
the research notes the bulletin data keeps for rule authors."""

from __future__ import annotations

import dataclasses

from test_report_fixtures import fleet

from nscheck.report.advice import ASSESS, CONTAIN, UPGRADE, clean_action, host_steps


def test_research_notes_and_citations_are_left_out() -> None:
    assert clean_action("Terminate sessions after upgrade (CCN-CERT; exact commands UNCONFIRMED)", "14.1") == \
        "Terminate sessions after upgrade."
    assert clean_action("Kill sessions after upgrade (UNCONFIRMED for this bulletin)", "14.1") == \
        "Kill sessions after upgrade."
    assert clean_action("Forensic triage (CISA BOD 26-04); CTX694799 steps if compromise suspected", "14.1") == \
        "Forensic triage; CTX694799 steps if compromise suspected."
    kept = clean_action("set ns tcpParam -enhancedISNGeneration ENABLED (per admin partition) for CVE-2026-88778", "14.1")
    assert kept == "Run `set ns tcpParam -enhancedISNGeneration ENABLED` (per admin partition) for CVE-2026-88778."


def test_only_this_hosts_train() -> None:
    upgrade = "Upgrade (13.1: use 64.24 if 'add ns variable' configured)"
    assert clean_action(upgrade, "14.1") is None  # nothing for a 14.1 host, and "Upgrade" alone says nothing
    assert clean_action(upgrade, "13.1") == "On 13.1: use 64.24 if `add ns variable` configured."
    both = "Interim: Global Deny List via NetScaler Console for 14.1 >=73.37 <73.41 and 13.1 >=64.23 <64.28; verify"
    assert "13.1" not in (clean_action(both, "14.1") or "") and "14.1 >=73.37 <73.41" in (clean_action(both, "14.1") or "")
    assert "14.1" not in (clean_action(both, "13.1") or "") and "13.1 >=64.23 <64.28" in (clean_action(both, "13.1") or "")


def test_steps_in_order_each_once_as_sentences() -> None:
    r = fleet()[6]  # compromised, vulnerable to an exploited bulletin
    adv = dataclasses.replace(r.advisories[0], actions=("kill icaconnection -all", "Kill sessions after upgrade",
                                                        "kill icaconnection -all"))
    r = dataclasses.replace(r, advisories=(adv,))
    steps = host_steps(r)
    phases = [s.phase for s in steps]
    assert phases[0] == CONTAIN and UPGRADE in phases and phases[-1] == ASSESS
    assert phases.index(UPGRADE) < phases.index(ASSESS)
    texts = [s.text for s in steps]
    assert len(texts) == len(set(texts))
    assert sum("kill icaconnection -all" in t for t in texts) == 1
    assert not any(t.startswith("Kill sessions") for t in texts)  # the command says it precisely
    assert all(t[0].isupper() and t.endswith((".", "!", "?")) for t in texts)
    assert not any("UNCONFIRMED" in t for t in texts)
