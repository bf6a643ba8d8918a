"""What to do about one host, in order: the steps every human format shows first (Markdown, the
per-host page, the fleet page's "Act now").

The bulletin data carries vendor and CERT actions as researchers wrote them: with source notes
("(CCN-CERT)"), research flags ("UNCONFIRMED"), advice for other trains and repeats across
bulletins. A reader needs each step once, as a sentence, for *this* appliance, so the text is
cleaned here (the data keeps its notes for rule authors) and ordered: contain a compromise,
mitigate before the upgrade, upgrade, finish after it, then check for past compromise.

Steps are plain text with two marks the renderers translate: ``code`` in backticks (a command
the reader pastes) and **bold**. Step text is our own wording or bulletin/rule data, never a
server's answer (that goes to the evidence sections, rendered as data).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from nscheck.model import HostResult, HostVerdict
from nscheck.report.text import (
    OPEN_VERDICTS,
    clean,
    low_confidence_only,
    open_assessments,
    state_of,
    unique_builds,
)

# Phases, in the order a responder works through them.
CONTAIN, BEFORE, UPGRADE, AFTER, ASSESS, INFO = "contain", "before", "upgrade", "after", "assess", "info"
_PHASE_ORDER = (CONTAIN, BEFORE, UPGRADE, AFTER, ASSESS, INFO)


@dataclass(frozen=True, slots=True)
class Step:
    phase: str
    text: str  # plain text; `code` and **bold** marks


# Appliance CLI verbs: an action that starts with one is a command to paste.
_VERBS = ("kill", "set", "unset", "show", "add", "rm", "bind", "unbind", "enable", "disable", "clear", "stat",
          "save", "shell", "reboot")
_COMMAND = re.compile(rf"^(?:{'|'.join(_VERBS)})\s+\S")
_QUOTED_COMMAND = re.compile(rf"'((?:{'|'.join(_VERBS)})\s[^']+)'")
_EMBEDDED_COMMAND = re.compile(rf"(:\s+)((?:{'|'.join(_VERBS)})\s+[^;`]+?)(?=[;.]?$|;)")
_RANGE = re.compile(r"(?:\band\s+)?\b(\d{2}\.\d)\s*>=\s*[\d.]+\s*<\s*[\d.]+")
_PAREN = re.compile(r"\s*\(([^()]*)\)")
# A parenthetical that is a research note, not advice: a flag, or a bare source citation.
_NOTE = re.compile(r"UNCONFIRMED|\bsummary\b|\bper (?:the )?(?:vendor|source)\b", re.IGNORECASE)
_SOURCE = re.compile(r"^[A-Z][A-Z0-9-]+(?:\s+[A-Z0-9][\w-]*)*(?:;.*)?$")
_TRAIN_NOTE = re.compile(r"^(\d{2}\.\d)(?:\s*(?:FIPS|NDcPP))?\s*:\s*(.+)$")
_BEFORE = re.compile(r"\binterim\b|\bbefore\s+(?:upgrading|rebooting|patching)|deny list|\bmitigation\b",
                     re.IGNORECASE)
_ASSESS = re.compile(r"\bforensic|\bioc scan|\btriage\b|\bcompromise\b", re.IGNORECASE)
_BARE_UPGRADE = re.compile(r"^(?:upgrade|patch|update)\.?$", re.IGNORECASE)
_SESSIONS = re.compile(r"^(?:kill|terminate|end)\s+(?:all\s+)?(?:active\s+)?sessions\b", re.IGNORECASE)


def _release(r: HostResult) -> str | None:
    return r.build.release if r.build is not None else None


def clean_action(action: str, release: str | None) -> str | None:
    """One bulletin action as a sentence for a host on ``release``; None when it says nothing
    for this host (another train's advice, a bare "upgrade", only a research note)."""
    text = clean(action, 600)

    def paren(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        train = _TRAIN_NOTE.match(inner)
        if train:
            return f" (on {train.group(1)}: {train.group(2)})" if release == train.group(1) else ""
        if _NOTE.search(inner) or _SOURCE.match(inner):
            return ""
        return m.group(0)

    text = _PAREN.sub(paren, text).strip()
    # "for 14.1 >=73.37 <73.41 and 13.1 >=64.23 <64.28": keep only this host's train.
    ranges = list(_RANGE.finditer(text))
    if release and len({m.group(1) for m in ranges}) > 1 and any(m.group(1) == release for m in ranges):
        for m in reversed(ranges):
            if m.group(1) != release:
                text = text[:m.start()] + text[m.end():]
        text = re.sub(r"\bfor\s+and\s+", "for ", text)
        text = re.sub(r"\s+and\s*(?=[;,.]|$)", "", text)
        text = re.sub(r"\s+([;,.])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
    text = re.sub(r"\s*;?\s*\bUNCONFIRMED\b.*$", "", text).strip(" ;,")
    if not text or _BARE_UPGRADE.match(text):
        return None
    on_train = re.match(r"^(?:Upgrade|Patch)\s*\(on (\d{2}\.\d): (.+)\)$", text)
    if on_train:
        text = f"On {on_train.group(1)}: {on_train.group(2)}"
    if _COMMAND.match(text):
        cut = min([i for i in (text.find(" ("), text.find(" for CVE"), text.find(" via ")) if i > 0] or [len(text)])
        text = f"Run `{text[:cut]}`{text[cut:]}"
    else:
        text = _QUOTED_COMMAND.sub(lambda q: f"`{q.group(1)}`", text)
        # "For X: set ns ... 30" -> the command after the colon is code
        text = _EMBEDDED_COMMAND.sub(lambda q: f"{q.group(1)}`{q.group(2)}`", text)
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def sentence(text: str) -> str:
    """A complete sentence: capital first letter, closing full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _phase(text: str) -> str:
    if _BEFORE.search(text):
        return BEFORE
    if _ASSESS.search(text):
        return ASSESS
    return AFTER


def _quote(arg: str) -> str:
    return shlex.quote(arg)


def state_path(r: HostResult) -> str | None:
    p = state_of(r).get("path")
    return clean(p, 1000) if p else None


def triage_commands(r: HostResult) -> tuple[str, str]:
    """The two commands that close a compromise assessment, ready to paste."""
    name = clean(state_of(r).get("host_key") or r.target, 200)
    db = state_path(r)
    st = f" --state {_quote(db)}" if db else " --state STATE.db"
    return (f"nscheck triage ARTEFACTS --name {_quote(name)}{st}",
            f"nscheck ack {_quote(name)} --triaged \"what you checked\"{st}")


def host_steps(r: HostResult) -> list[Step]:
    """Every step for one host, in the order to do them, each once."""
    steps: list[Step] = []
    release = _release(r)
    if r.indicators:
        if low_confidence_only(r):
            steps.append(Step(CONTAIN, "Confirm each indicator below by hand first (only low-confidence rules "
                                       "matched). If one is confirmed, treat the appliance as compromised."))
        else:
            steps.append(Step(CONTAIN, "Treat this appliance as compromised: isolate it (restrict access) without "
                                       "rebooting or wiping it, preserve evidence and start your incident response. "
                                       "Upgrading alone does not remove an attacker."))
        for advice in dict.fromkeys(clean(i.advice, 2000) for i in r.indicators if i.advice):
            steps.append(Step(CONTAIN, sentence(advice)))
    rem = r.remediation
    opened = [a for a in r.advisories if a.verdict in OPEN_VERDICTS]
    actions: list[str] = []
    for a in opened:
        actions += list(a.actions)
    if rem is not None:
        actions += list(rem.actions)
    cleaned = [c for c in (clean_action(x, release) for x in dict.fromkeys(actions)) if c]
    cleaned = list(dict.fromkeys(cleaned))
    if any("kill icaconnection" in c.lower() for c in cleaned):
        cleaned = [c for c in cleaned if not _SESSIONS.match(c)]  # the commands say it precisely
    before = [c for c in cleaned if _phase(c) == BEFORE]
    for c in before:
        # Several bulletins say "Global Deny List" in their own words: the most specific one stays.
        if "deny list" in c.lower() and any("deny list" in o.lower() and len(o) > len(c) for o in before):
            continue
        steps.append(Step(BEFORE, c))
    if rem is not None and (rem.upgrade_to or rem.move_train):
        on = f" on {release}" if release and not rem.move_train else ""
        if rem.upgrade_to and rem.move_train:
            steps.append(Step(UPGRADE, f"Move to a supported release train: upgrade to **{unique_builds(rem.upgrade_to)}** "
                                       f"or later ({release or 'this'} train is end of life and gets no fixes)."))
        elif rem.upgrade_to:
            n = len(opened)
            steps.append(Step(UPGRADE, f"Upgrade to **{unique_builds(rem.upgrade_to)}** or later: the first build{on} "
                                       f"that closes {'the open bulletin' if n == 1 else f'all {n} open bulletins'}."))
        else:
            steps.append(Step(UPGRADE, f"Move to a supported release train: {release or 'this'} train is end of life "
                                       "and gets no fixes."))
    for c in cleaned:
        if _phase(c) == AFTER:
            steps.append(Step(AFTER, "After upgrading: " + c[0].lower() + c[1:] if not c.startswith("Run `") else
                              c[:-1] + " after upgrading."))
    for c in cleaned:
        if _phase(c) == ASSESS:
            steps.append(Step(ASSESS, c))
    exploited = [a for a in opened if a.exploited or a.kev]
    if open_assessments(r):
        triage, ack = triage_commands(r)
        steps.append(Step(ASSESS, "Check for compromise (this host was vulnerable while a bulletin was exploited in the "
                                  f"wild; patching does not remove an implant): collect artefacts and run `{triage}`. "
                                  "A clean triage closes the compromise assessment."))
        steps.append(Step(ASSESS, f"If you examined the appliance another way, record the result: `{ack}`."))
    elif exploited or (rem is not None and rem.check_compromise):
        name = clean(state_of(r).get("host_key") or r.target, 200)
        steps.append(Step(ASSESS, "Check for compromise even after patching (NCSC advice: the bulletin is exploited in "
                                  "the wild): collect artefacts from the appliance and run "
                                  f"`nscheck triage ARTEFACTS --name {_quote(name)}`."))
    if r.kind == "triage" and r.coverage is not None:
        steps += [Step(INFO, sentence(clean(x, 600))) for x in r.coverage.next_steps or ()]
    if not steps:
        steps.append(Step(INFO, _nothing(r)))
    order = {p: n for n, p in enumerate(_PHASE_ORDER)}
    seen: set[str] = set()
    out = []
    for s in sorted(steps, key=lambda s: order[s.phase]):  # stable: keeps the order within a phase
        if s.text not in seen:
            seen.add(s.text)
            out.append(s)
    return out


def _nothing(r: HostResult) -> str:
    v = r.verdict
    if v is HostVerdict.UNKNOWN and r.status.value == "ok":
        return ("Find the exact build by other means (`show ns version` on the appliance) and check it with "
                "`nscheck assess`: nscheck could not decide, and unknown is not clean.")
    if v in (HostVerdict.UNREACHABLE, HostVerdict.UNKNOWN):
        return "Check that the target is right and reachable from the scanner, then scan again."
    if r.kind == "triage":
        return "Nothing found in what was examined; read what could NOT be checked before calling the appliance clean."
    if v is HostVerdict.NOT_NETSCALER:
        return "Nothing: this is not a NetScaler (no bulletin applies)."
    return "Nothing to do for the known bulletins."
