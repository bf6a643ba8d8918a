"""The state database (``--state PATH``): hosts, findings and runs across scheduled scans.

An embedded SQLite file (WAL, so ``nscheck history`` can read while a scan writes), with a
``schema_version`` table and forward-only migrations. Each host is committed as it completes,
so a run killed half-way keeps every finished host and the store never holds half a host.

Life of a run::

    store = StateStore.open(path)
    store.begin_run(run_info)
    for result in results:
        annotated = store.record_host(result)   # transitions into annotated.extra
    summary = store.end_run(summary)            # run row completed / partial, counts in extra

All times of one run are the run's start time, so one run's observations line up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nscheck.model import (
    Finding,
    FindingKind,
    HostResult,
    Precondition,
    RunInfo,
    RunSummary,
    Severity,
    Verdict,
    finding_id,
    findings_of,
    host_key,
    indicator_rule_key,
)
from nscheck.state import exposure
from nscheck.state.suppress import Suppression
from nscheck.state.suppress import match as match_suppression
from nscheck.state.transitions import MERGED, OPEN, RESOLVED, Transition, classify, coverage_of


class StateError(Exception):
    """The state database cannot be used (said plainly; the CLI exits 64)."""


# Forward-only. Never edit a released step: add a new one. Index = version - 1.
MIGRATIONS: tuple[str, ...] = (
    # v1: hosts, findings, runs
    """
    CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT, started TEXT, ended TEXT, status TEXT,
                       hosts INTEGER, counts TEXT, tool_version TEXT, command TEXT);
    CREATE TABLE hosts (key TEXT PRIMARY KEY, target TEXT, url TEXT, first_seen TEXT, last_seen TEXT,
                        seen_count INTEGER, last_status TEXT, last_verdict TEXT, last_build TEXT,
                        last_run TEXT);
    CREATE TABLE findings (id TEXT PRIMARY KEY, host_key TEXT, kind TEXT, rule_id TEXT, title TEXT,
                           severity TEXT, status TEXT, verdict TEXT, first_seen TEXT, last_seen TEXT,
                           seen_count INTEGER, resolved_at TEXT, last_run TEXT);
    CREATE INDEX findings_host ON findings(host_key);
    """,
    # v2: a timeline (observations per host per run, transition events), richer findings
    """
    CREATE TABLE observations (run_id TEXT, host_key TEXT, at TEXT, status TEXT, verdict TEXT,
                               build TEXT, reached INTEGER, fingerprinted INTEGER, note TEXT,
                               PRIMARY KEY (run_id, host_key));
    CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, at TEXT, host_key TEXT,
                         finding_id TEXT, transition TEXT, detail TEXT);
    CREATE INDEX events_host ON events(host_key);
    ALTER TABLE findings ADD COLUMN cves TEXT DEFAULT '[]';
    ALTER TABLE findings ADD COLUMN data TEXT DEFAULT '{}';
    ALTER TABLE findings ADD COLUMN episode_start TEXT;
    ALTER TABLE findings ADD COLUMN last_transition TEXT;
    ALTER TABLE runs ADD COLUMN signatures_version TEXT;
    ALTER TABLE runs ADD COLUMN transitions TEXT DEFAULT '{}';
    UPDATE findings SET episode_start = first_seen;
    INSERT INTO observations (run_id, host_key, at, status, verdict, build, reached, fingerprinted, note)
        SELECT COALESCE(last_run, ''), key, last_seen, last_status, last_verdict, last_build,
               last_status = 'ok', last_build IS NOT NULL, 'migrated from schema v1' FROM hosts;
    """,
    # v3: suppressions on findings, triage records (acks), pending announcements
    """
    ALTER TABLE findings ADD COLUMN suppressed INTEGER DEFAULT 0;
    ALTER TABLE findings ADD COLUMN suppression TEXT;
    ALTER TABLE findings ADD COLUMN announce INTEGER DEFAULT 0;
    ALTER TABLE hosts ADD COLUMN last_assessed TEXT;
    CREATE TABLE acks (seq INTEGER PRIMARY KEY AUTOINCREMENT, host_key TEXT, at TEXT, reason TEXT,
                       who TEXT, source TEXT, closed TEXT DEFAULT '[]');
    """,
    # v4: one compromise assessment per host (was one per host x bulletin). The per-bulletin rows
    # are folded into the host's one assessment (open if any was open; its bulletins listed) and
    # kept, marked 'merged', so their events still resolve in `nscheck history`.
    # nscheck_finding_id() is finding_id(), registered on the connection by migrate().
    """
    INSERT OR IGNORE INTO findings (id, host_key, kind, rule_id, title, severity, status, verdict, first_seen,
                                    last_seen, seen_count, resolved_at, last_run, cves, data, episode_start,
                                    last_transition, suppressed, announce)
        SELECT nscheck_finding_id(host_key, 'assessment', 'compromise-assessment-required'), host_key,
               'assessment', 'compromise-assessment-required',
               'Compromise assessment required: vulnerable while exploited in the wild', MIN(severity),
               CASE WHEN SUM(status = 'open') > 0 THEN 'open' ELSE 'resolved' END, 'required',
               MIN(first_seen), MAX(last_seen), MAX(seen_count),
               CASE WHEN SUM(status = 'open') > 0 THEN NULL ELSE MAX(resolved_at) END, MAX(last_run), '[]',
               json_object('bulletins', json_group_array(substr(rule_id, 32)),
                           'migrated_from', json_group_array(id)),
               MIN(episode_start), MAX(last_transition), 0, MAX(announce)
        FROM findings WHERE kind = 'assessment' AND rule_id LIKE 'compromise-assessment-required:%'
        GROUP BY host_key;
    UPDATE findings SET status = 'merged', announce = 0
        WHERE kind = 'assessment' AND rule_id LIKE 'compromise-assessment-required:%';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_label(result: HostResult) -> str | None:
    """The build as one string for the timeline: exact, candidate set, or floor."""
    b = result.build
    if b is None:
        return None
    if b.exact and b.candidates:
        return b.candidates[0]
    if b.exact and b.release and b.build:
        return f"{b.release}-{b.build}" + (f" {b.edition.upper()}" if b.edition and b.edition != "standard" else "")
    if len(b.candidates) == 1:
        return b.candidates[0]
    if b.candidates:
        more = f" (+{len(b.candidates) - 3})" if len(b.candidates) > 3 else ""
        return "one of " + ", ".join(b.candidates[:3]) + more
    if b.floor:
        return f">= {b.floor}"
    return None


def _ts(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _doc(row: sqlite3.Row, **over: Any) -> dict[str, Any]:
    """A stored finding as a plain finding document (for resolved/assessment emission)."""
    d = {
        "id": row["id"], "kind": row["kind"], "rule_id": row["rule_id"], "host": row["host_key"],
        "title": row["title"], "severity": row["severity"], "status": row["status"], "verdict": row["verdict"],
        "cves": json.loads(row["cves"] or "[]"), "first_seen": row["first_seen"], "last_seen": row["last_seen"],
        "seen_count": row["seen_count"], "resolved_at": row["resolved_at"], "suppressed": bool(row["suppressed"]),
        "suppression": json.loads(row["suppression"]) if row["suppression"] else None,
    }
    data = json.loads(row["data"] or "{}")
    d["target"] = data.get("target", row["host_key"])
    for key in ("exposure", "bulletins", "windows", "advice", "resolution", "exploitation", "reopened_after",
                "method"):
        if key in data:
            d[key] = data[key]
    d.update(over)
    return d


class StateStore:
    def __init__(self, conn: sqlite3.Connection, path: str, *, suppressions: list[Suppression] | None = None):
        self.conn = conn
        self.path = path
        self.suppressions = list(suppressions or ())
        self.run: RunInfo | None = None
        self.counts: Counter[str] = Counter()
        self.warnings: list[str] = []

    # -- opening and migrations -----------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, suppressions: list[Suppression] | None = None, upto: int | None = None) -> StateStore:
        """Open (or create) the database and bring its schema up to date.

        ``upto`` stops migrations early; it exists to build old-schema databases in tests.
        """
        p = Path(path)
        if p.exists() and p.is_dir():
            raise StateError(f"{p}: is a directory, not a state database")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StateError(f"{p}: cannot create its directory: {e.strerror or e}") from None
        try:
            # 0600 whatever the umask: the history says which hosts were vulnerable when. SQLite
            # gives its -wal/-shm files the database file's mode.
            fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                if os.fstat(fd).st_uid == os.getuid():
                    os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        except OSError as e:
            raise StateError(f"{p}: cannot open: {e.strerror or e}") from None
        try:
            conn = sqlite3.connect(str(p), timeout=10.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            migrate(conn, upto=upto)
        except sqlite3.DatabaseError as e:
            raise StateError(f"{p}: not a usable nscheck state database ({e})") from None
        return cls(conn, str(p), suppressions=suppressions)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @property
    def version(self) -> int:
        return schema_version(self.conn)

    # -- runs -----------------------------------------------------------------------------

    def begin_run(self, run: RunInfo) -> None:
        self.run = run
        self.counts = Counter()
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO runs (id, kind, started, status, hosts, counts, tool_version, command,"
                " signatures_version, transitions) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run.run_id, run.kind, run.started, "running", 0, "{}", run.tool_version, run.command,
                 run.signatures_version, "{}"),
            )

    def end_run(self, summary: RunSummary) -> RunSummary:
        """Mark the run complete or partial; return the summary with transition counts in extra."""
        status = "partial" if summary.partial else "complete"
        counts = {k: v for k, v in self.counts.items() if v}
        with self._tx() as c:
            c.execute(
                "UPDATE runs SET ended=?, status=?, hosts=?, counts=?, transitions=? WHERE id=?",
                (summary.ended, status, summary.hosts, json.dumps(summary.counts), json.dumps(counts),
                 summary.run.run_id),
            )
        extra = dict(summary.extra)
        extra["transitions"] = counts
        extra["state"] = {"path": self.path, "schema_version": self.version, "run_status": status}
        return dataclasses.replace(summary, extra=extra)

    # -- hosts ----------------------------------------------------------------------------

    def _time(self) -> str:
        return self.run.started if self.run else _now()

    def record_host(self, result: HostResult) -> HostResult:
        """Record one host's result; return it annotated with transitions (see module doc)."""
        if self.run is None:
            raise StateError("record_host before begin_run")
        now = self._time()
        today = (exposure.parse_day(now) or dt.date.today())
        key = host_key(result)
        if result.kind == "triage":
            key = self._triage_key(result) or key
        cov = coverage_of(result)
        current = findings_of(result)
        # Reports look findings up by the id findings_of(result) gives; the store keys a triage
        # finding by the appliance it came from, so the two ids are mapped.
        report_id = {f.id: f.id for f in current}
        if result.kind == "triage":
            rekeyed = [self._rekey(f, key) for f in current]
            report_id = {new.id: old.id for new, old in zip(rekeyed, current, strict=True)}
            current = rekeyed
        meta: dict[str, dict[str, Any]] = {}
        resolved_docs: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        assessments: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        with self._tx() as c:
            host = c.execute("SELECT * FROM hosts WHERE key=?", (key,)).fetchone()
            first_sight = host is None or host["last_assessed"] is None
            label = build_label(result)
            previous_build = host["last_build"] if host else None
            self._upsert_host(c, key, result, host, now, label, cov.fingerprinted)
            c.execute(
                "INSERT OR REPLACE INTO observations VALUES (?,?,?,?,?,?,?,?,?)",
                (self.run.run_id, key, now, result.status.value, result.verdict.value, label,
                 int(cov.reached), int(cov.fingerprinted),
                 f"triage of {result.target}" if result.kind == "triage"
                 else result.error or (cov.advisories_reason if cov.reached else None)),
            )
            stored = {r["id"]: r for r in c.execute("SELECT * FROM findings WHERE host_key=?", (key,))}
            seen_ids = set()
            for f in current:
                seen_ids.add(f.id)
                row = stored.get(f.id)
                t = classify(row["status"] if row else None, True, cov.can_resolve(f.kind))
                assert t is not None
                # The vulnerable build was running before this finding was first recorded: on
                # first sight of the host, or when a new bulletin hits an unchanged build.
                predates = first_sight or not (previous_build and label and previous_build != label)
                m = self._record_present(c, f, row, t, now, today, result, predates)
                meta[report_id[f.id]] = m
                counts[t.value] += 1
            for fid, row in stored.items():
                if fid in seen_ids or row["kind"] == FindingKind.ASSESSMENT.value:
                    continue
                if row["status"] != OPEN:
                    continue
                if result.kind == "triage" and row["kind"] != FindingKind.INDICATOR.value:
                    continue  # a triage run says nothing about bulletins
                t = classify(OPEN, False, cov.can_resolve(row["kind"]))
                if t is Transition.RESOLVED:
                    c.execute(
                        "UPDATE findings SET status=?, resolved_at=?, last_transition=?, last_run=? WHERE id=?",
                        (RESOLVED, now, t.value, self.run.run_id, fid),
                    )
                    detail: dict[str, Any] = {"rule_id": row["rule_id"], "build": label}
                    now_adv = next((a for a in result.advisories if a.id == row["rule_id"]), None)
                    if now_adv is not None and (row["verdict"] == "unknown" or (
                            now_adv.method == "nitro" and now_adv.precondition is Precondition.NOT_MET)):
                        # Undecided before (or "vulnerable if configured"), now decided clean by
                        # what the appliance reports: not "fixed" (nothing was patched).
                        detail["decided"] = {"from": "unknown", "to": now_adv.verdict.value,
                                             "method": now_adv.method or "remote"}
                    self._event(c, key, fid, t, detail)
                    doc = _doc(row, status=RESOLVED, resolved_at=now, transition=t.value, target=result.target)
                    if "decided" in detail:
                        doc["decided"] = detail["decided"]
                    resolved_docs.append(doc)
                    meta[fid] = {k: doc.get(k) for k in ("transition", "status", "first_seen", "last_seen", "seen_count",
                                                         "resolved_at", "suppressed", "suppression", "exposure",
                                                         "decided") if k in doc or k != "decided"}
                    counts[t.value] += 1
                else:
                    reason = cov.reason(row["kind"]) or "not assessed"
                    held.append(_doc(row, transition=None, held_reason=reason))
                    counts["held"] += 1
            # Assessments after every bulletin finding is up to date.
            if result.kind == "triage":
                assessments = self._triage_assessments(c, key, result, now, counts)
            else:
                assessments = self._assess_exposure(c, key, result, now, meta, counts)
                for d in resolved_docs:  # the window just closed by this run
                    if (meta.get(d["id"]) or {}).get("exposure"):
                        d["exposure"] = meta[d["id"]]["exposure"]
        self.counts.update(counts)
        extra = dict(result.extra)
        extra["findings"] = {**extra.get("findings", {}), **meta}
        extra["resolved"] = resolved_docs
        extra["held_open"] = held
        extra["assessments"] = assessments
        extra["state"] = {
            "run_id": self.run.run_id,
            "host_key": key,
            "path": str(Path(self.path).resolve()),  # so reports can print commands that work when pasted (`nscheck ack --state`)
            "host_first_seen": host["first_seen"] if host else now,
            "host_seen_count": (host["seen_count"] if host else 0) + 1,
            "previous_build": previous_build,
            "build": build_label(result),
            "build_changed": bool(previous_build and build_label(result) and previous_build != build_label(result)),
            "reached": cov.reached,
            "fingerprinted": cov.fingerprinted,
            "advisories_not_resolvable": cov.advisories_reason,
            "indicators_not_resolvable": cov.indicators_reason,
            "transitions": {k: v for k, v in counts.items() if v},
        }
        return dataclasses.replace(result, extra=extra)

    def _upsert_host(self, c: sqlite3.Connection, key: str, r: HostResult, host: sqlite3.Row | None,
                     now: str, label: str | None, fingerprinted: bool) -> None:
        assessed = now if fingerprinted else (host["last_assessed"] if host else None)
        if r.kind == "triage":
            # Offline artefacts: the host's scan-facing facts (target, status, verdict) stay as
            # the last scan saw them; the triage shows in the timeline as its own observation.
            if host is None:
                c.execute("INSERT INTO hosts (key, target, first_seen, last_seen, seen_count, last_status, last_verdict,"
                          " last_run) VALUES (?,?,?,?,?,?,?,?)",
                          (key, self._triage_name(r), now, now, 0, None, None, self.run.run_id if self.run else None))
            return
        if host is None:
            c.execute(
                "INSERT INTO hosts (key, target, url, first_seen, last_seen, seen_count, last_status, last_verdict,"
                " last_build, last_run, last_assessed) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (key, r.target, r.url, now, now, 1, r.status.value, r.verdict.value, label, self.run.run_id if self.run else None, assessed),
            )
        else:
            c.execute(
                "UPDATE hosts SET target=?, url=COALESCE(?, url), last_seen=?, seen_count=seen_count+1, last_status=?,"
                " last_verdict=?, last_build=COALESCE(?, last_build), last_run=?, last_assessed=? WHERE key=?",
                (r.target, r.url, now, r.status.value, r.verdict.value, label, self.run.run_id if self.run else None, assessed, key),
            )

    def _event(self, c: sqlite3.Connection, key: str, fid: str, t: Transition | str, detail: dict[str, Any]) -> None:
        c.execute(
            "INSERT INTO events (run_id, at, host_key, finding_id, transition, detail) VALUES (?,?,?,?,?,?)",
            (self.run.run_id if self.run else None, self._time(), key, fid, str(t), json.dumps(detail)),
        )

    def _record_present(self, c: sqlite3.Connection, f: Finding, row: sqlite3.Row | None, t: Transition,
                        now: str, today: dt.date, result: HostResult, predates: bool) -> dict[str, Any]:
        m = match_suppression(self.suppressions, f, today)
        supp = m.active.to_dict() if m.active else None
        data: dict[str, Any] = json.loads(row["data"] or "{}") if row else {}
        data["target"] = result.target
        decided: dict[str, Any] | None = None
        if f.advisory is not None:
            data["exploitation"] = exposure.exploitation_facts(f.advisory)
            data["fixed_in"] = f.advisory.fixed_in
            # Which method decided the verdict, when not the remote scan alone (history shows it).
            if f.advisory.method:
                data["method"] = f.advisory.method
            else:
                data.pop("method", None)
            if row is not None and row["verdict"] == "unknown" and f.status != "unknown":
                # An open finding that was undecided is now decided (e.g. by NITRO): the same
                # finding, not a new one; the event and the report say so.
                decided = {"from": "unknown", "to": f.status, "method": f.advisory.method or "remote"}
        if f.indicator is not None:
            data["evidence"] = f.indicator.evidence[:300]
        if t is Transition.NEW:
            data["predates_observation"] = predates
        elif t is Transition.REGRESSED:
            data["predates_observation"] = False
        episode_start = now if t in (Transition.NEW, Transition.REGRESSED) or row is None \
            else (row["episode_start"] or row["first_seen"])
        if row is None:
            c.execute(
                "INSERT INTO findings (id, host_key, kind, rule_id, title, severity, status, verdict, first_seen,"
                " last_seen, seen_count, resolved_at, last_run, cves, data, episode_start, last_transition,"
                " suppressed, suppression) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (f.id, f.host, f.kind.value, f.rule_id, f.title, f.severity.value, OPEN, f.status, now, now, 1, None,
                 self.run.run_id if self.run else None, json.dumps(list(f.cves)), json.dumps(data), episode_start,
                 t.value, int(supp is not None), json.dumps(supp) if supp else None),
            )
            first_seen, seen = now, 1
        else:
            c.execute(
                "UPDATE findings SET title=?, severity=?, status=?, verdict=?, last_seen=?, seen_count=seen_count+1,"
                " resolved_at=NULL, last_run=?, cves=?, data=?, episode_start=?, last_transition=?, suppressed=?,"
                " suppression=? WHERE id=?",
                (f.title, f.severity.value, OPEN, f.status, now, self.run.run_id if self.run else None,
                 json.dumps(list(f.cves)), json.dumps(data), episode_start, t.value, int(supp is not None),
                 json.dumps(supp) if supp else None, f.id),
            )
            first_seen, seen = row["first_seen"], row["seen_count"] + 1
        if t is not Transition.UNCHANGED or (row is not None and row["verdict"] != f.status):
            detail: dict[str, Any] = {"rule_id": f.rule_id, "verdict": f.status, "build": build_label(result)}
            if f.advisory is not None and f.advisory.method:
                detail["method"] = f.advisory.method
            if decided is not None:
                detail["decided"] = decided
            self._event(c, f.host, f.id, t, detail)
        meta: dict[str, Any] = {
            "transition": t.value,
            "status": OPEN,
            "first_seen": first_seen,
            "last_seen": now,
            "seen_count": seen,
            "episode_start": episode_start,
            "suppressed": supp is not None,
            "suppression": supp,
        }
        if decided is not None:
            meta["decided"] = decided
        if m.expired is not None:
            exp = m.expired.to_dict()
            meta["suppression_expired"] = exp
            msg = (f"nscheck: suppression expired on {exp['expires']} for {f.host} {f.rule_id}"
                   f" ({exp['reason']}{', ' + exp['who'] if exp['who'] else ''}): finding re-opened")
            self.warnings.append(msg)
        return meta

    # -- exposure and compromise assessments ---------------------------------------------

    def _assess_exposure(self, c: sqlite3.Connection, key: str, result: HostResult, now: str,
                         meta: dict[str, dict[str, Any]], counts: Counter[str]) -> list[dict[str, Any]]:
        """Exposure windows for this host's bulletin findings; open or re-open assessments."""
        run_id = self.run.run_id if self.run else None
        needs: dict[str, dict[str, Any]] = {}  # bulletin -> window info, for windows that overlap exploitation
        rows = c.execute("SELECT * FROM findings WHERE host_key=? AND kind=?", (key, FindingKind.ADVISORY.value)).fetchall()
        for row in rows:
            data = json.loads(row["data"] or "{}")
            facts = data.get("exploitation")
            if not facts or row["verdict"] != Verdict.VULNERABLE.value:
                continue
            if row["last_run"] != run_id:
                continue  # not looked at in this run: its window was judged when it was
            w = exposure.window(
                facts,
                episode_start=row["episode_start"] or row["first_seen"],
                last_seen_vulnerable=row["last_seen"],
                resolved_at=row["resolved_at"],
                predates_observation=bool(data.get("predates_observation")),
            )
            data["exposure"] = w.to_dict()
            c.execute("UPDATE findings SET data=? WHERE id=?", (json.dumps(data), row["id"]))
            if row["id"] in meta:
                meta[row["id"]]["exposure"] = w.to_dict()
            if w.overlaps:
                # Vulnerable after this moment: a triage recorded before it does not cover it.
                exposed_until = row["resolved_at"] or row["last_seen"]
                needs[row["rule_id"]] = {"window": w, "facts": facts, "finding": row["id"], "until": exposed_until}
        out: list[dict[str, Any]] = []
        existing = {
            r["rule_id"]: r
            for r in c.execute("SELECT * FROM findings WHERE host_key=? AND kind=? AND status != ?",
                               (key, FindingKind.ASSESSMENT.value, MERGED))
        }
        # One assessment per host: the question is "was this appliance compromised", whichever
        # exploited bulletins and windows opened it (they are listed in it).
        if needs:
            rule = exposure.ASSESSMENT_RULE
            fid = finding_id(key, FindingKind.ASSESSMENT, rule)
            row = existing.pop(rule, None)
            until = max((u for i in needs.values() if (u := _ts(i["until"])) is not None), default=None)
            covered = False
            if row is not None and row["status"] == RESOLVED:
                triaged_at = _ts(row["resolved_at"])
                if triaged_at is not None and until is not None and until <= triaged_at:
                    # The triage came after every exposure ended: it covers them.
                    covered = True
                    if row["announce"]:
                        out.append(self._announce_resolved(c, row, key, result, counts))
            if not covered:
                out.append(self._open_assessment(c, key, fid, rule, row, needs, result, now, counts))
        # Assessments not re-computed this run (their bulletin finding was closed in an earlier
        # run) stay open until triaged; ones closed by a triage record are announced once.
        for row in existing.values():
            if row["announce"]:
                out.append(self._announce_resolved(c, row, key, result, counts))
            elif row["status"] == OPEN:
                c.execute("UPDATE findings SET last_seen=?, seen_count=seen_count+1, last_run=?, last_transition=?"
                          " WHERE id=?", (now, run_id, Transition.UNCHANGED.value, row["id"]))
                new = c.execute("SELECT * FROM findings WHERE id=?", (row["id"],)).fetchone()
                out.append(_doc(new, transition=Transition.UNCHANGED.value, target=result.target))
                counts[Transition.UNCHANGED.value] += 1
        for d in out:
            meta[d["id"]] = {k: d.get(k) for k in ("transition", "status", "first_seen", "last_seen", "seen_count",
                                                     "suppressed", "suppression", "exposure", "resolved_at")}
        return out

    def _open_assessment(self, c: sqlite3.Connection, key: str, fid: str, rule: str, row: sqlite3.Row | None,
                         needs: dict[str, dict[str, Any]], result: HostResult, now: str,
                         counts: Counter[str]) -> dict[str, Any]:
        """Open, keep open or re-open the host's one compromise assessment."""
        run_id = self.run.run_id if self.run else None
        previous = row["status"] if row else None
        t = classify(previous, True, False)
        assert t is not None
        if t is Transition.REGRESSED:
            # Closed by a triage record (ack / clean triage) but still exposed after it: that is
            # a triage overtaken by events, not a vulnerability coming back.
            t = Transition.REOPENED
        bulletins = sorted(needs)
        windows = {b: needs[b]["window"] for b in bulletins}
        facts = {b: needs[b]["facts"] for b in bulletins}
        longest = max(bulletins, key=lambda b: (windows[b].overlap_days, b))
        names = []
        for b in bulletins:
            n = ", ".join(facts[b].get("names") or ())
            names.append(f"{b} ({n})" if n else b)
        title = (f"Compromise assessment required: vulnerable while exploited in the wild ({', '.join(names)}; "
                 f"up to {windows[longest].overlap_days} days of overlap)")
        import shlex

        db = shlex.quote(str(Path(self.path).resolve()))  # commands that work when pasted
        advice = ("Collect artefacts from this appliance and run `nscheck triage ARTEFACTS --name "
                  f"{key} --state {db}` (patching does not remove an implant); if it was examined some other way, "
                  f"record the result: `nscheck ack {key} --triaged \"what you checked\" --state {db}`.")
        cves = sorted({cve for b in bulletins for cve in facts[b].get("cves") or ()})
        data = {"target": result.target, "bulletins": bulletins,
                "windows": {b: {**windows[b].to_dict(), "exploitation": facts[b]} for b in bulletins},
                "exposure": windows[longest].to_dict(), "exploitation": facts[longest], "advice": advice,
                "source_findings": {b: needs[b]["finding"] for b in bulletins}}
        if row is not None and row["status"] == RESOLVED:
            data["reopened_after"] = json.loads(row["data"] or "{}").get("resolution")
        sev = Severity.CRITICAL.value if any(f.get("kev") for f in facts.values()) else Severity.HIGH.value
        if row is None:
            c.execute(
                "INSERT INTO findings (id, host_key, kind, rule_id, title, severity, status, verdict, first_seen,"
                " last_seen, seen_count, last_run, cves, data, episode_start, last_transition)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (fid, key, FindingKind.ASSESSMENT.value, rule, title, sev, OPEN, "required", now, now, 1,
                 run_id, json.dumps(cves), json.dumps(data), now, t.value),
            )
        else:
            c.execute(
                "UPDATE findings SET title=?, severity=?, status=?, last_seen=?, seen_count=seen_count+1,"
                " resolved_at=NULL, last_run=?, cves=?, data=?, episode_start=?, last_transition=?, announce=0"
                " WHERE id=?",
                (title, sev, OPEN, now, run_id, json.dumps(cves), json.dumps(data),
                 now if t is Transition.REOPENED else row["episode_start"], t.value, fid),
            )
        if t is not Transition.UNCHANGED:
            self._event(c, key, fid, t, {"rule_id": rule, "bulletins": bulletins})
        new = c.execute("SELECT * FROM findings WHERE id=?", (fid,)).fetchone()
        counts[t.value] += 1
        return _doc(new, transition=t.value, target=result.target)

    def _announce_resolved(self, c: sqlite3.Connection, row: sqlite3.Row, key: str, result: HostResult,
                           counts: Counter[str]) -> dict[str, Any]:
        """An assessment closed by a triage record since the last scan: say so once, in this run."""
        c.execute("UPDATE findings SET announce=0, last_transition=?, last_run=? WHERE id=?",
                  (Transition.RESOLVED.value, self.run.run_id if self.run else None, row["id"]))
        counts[Transition.RESOLVED.value] += 1
        return _doc(row, transition=Transition.RESOLVED.value, target=result.target)

    # -- triage records ---------------------------------------------------------------------

    def resolve_hosts(self, name: str) -> list[str]:
        """Host keys that ``name`` designates: a key, a target, or a host name on any port."""
        n = name.strip().lower()
        keys = []
        for r in self.conn.execute("SELECT key, target FROM hosts ORDER BY key"):
            k = r["key"]
            hostname = k.rsplit(":", 1)[0] if k.count(":") == 1 or k.startswith("[") else k
            if n in (k, (r["target"] or "").lower(), hostname, hostname.strip("[]")):
                keys.append(k)
        return keys

    @staticmethod
    def _triage_name(result: HostResult) -> str:
        # `nscheck triage --name HOST` says which appliance the artefacts came from.
        return str(result.extra.get("host_name") or result.target)

    def _triage_key(self, result: HostResult) -> str | None:
        keys = self.resolve_hosts(self._triage_name(result))
        return keys[0] if keys else self._triage_name(result).strip().lower()

    @staticmethod
    def _rekey(f: Finding, key: str) -> Finding:
        rid = f.rule_id if f.indicator is None else indicator_rule_key(f.indicator)
        return dataclasses.replace(f, host=key, id=finding_id(key, f.kind, rid))

    def _triage_assessments(self, c: sqlite3.Connection, key: str, result: HostResult, now: str,
                            counts: Counter[str]) -> list[dict[str, Any]]:
        from nscheck.model import HostStatus

        # A clean triage is "looked, and found no indicator". Its build may still be vulnerable
        # (that is the scan's business): the compromise question is what a triage answers.
        if result.indicators or result.status is not HostStatus.OK or not result.coverage:
            return []  # hits, unreadable input, or no coverage: nothing is closed
        out = []
        # One appliance may be known under several host:port keys (vservers): close them all.
        for k in self.resolve_hosts(self._triage_name(result)) or [key]:
            closed = self._close_assessments(c, k, now, f"clean triage of {result.target}", None, "triage")
            for fid in closed:
                row = c.execute("SELECT * FROM findings WHERE id=?", (fid,)).fetchone()
                out.append(self._announce_resolved(c, row, k, result, counts))
        return out

    def _close_assessments(self, c: sqlite3.Connection, key: str, at: str, reason: str, who: str | None,
                           source: str) -> list[str]:
        rows = c.execute("SELECT * FROM findings WHERE host_key=? AND kind=? AND status=?",
                         (key, FindingKind.ASSESSMENT.value, OPEN)).fetchall()
        ids = [r["id"] for r in rows]
        for r in rows:
            data = json.loads(r["data"] or "{}")
            data["resolution"] = {"by": source, "at": at, "reason": reason, "who": who}
            c.execute("UPDATE findings SET status=?, resolved_at=?, announce=1, data=? WHERE id=?",
                      (RESOLVED, at, json.dumps(data), r["id"]))
            c.execute("INSERT INTO events (run_id, at, host_key, finding_id, transition, detail) VALUES (?,?,?,?,?,?)",
                      (self.run.run_id if self.run else None, at, key, r["id"], Transition.RESOLVED.value,
                       json.dumps({"rule_id": r["rule_id"], "triaged": reason, "who": who, "by": source})))
        c.execute("INSERT INTO acks (host_key, at, reason, who, source, closed) VALUES (?,?,?,?,?,?)",
                  (key, at, reason, who, source, json.dumps(ids)))
        return ids

    def ack(self, name: str, reason: str, who: str | None = None, at: str | None = None) -> dict[str, list[str]]:
        """Record a triage result for a host: closes its open compromise assessments.

        Returns {host_key: [closed finding ids]}; raises StateError when no host matches.
        """
        keys = self.resolve_hosts(name)
        if not keys:
            raise StateError(f"no host {name!r} in {self.path} (see `nscheck history --state {self.path}`)")
        at = at or _now()
        out = {}
        with self._tx() as c:
            for k in keys:
                out[k] = self._close_assessments(c, k, at, reason, who, "ack")
        return out

    # -- reading ------------------------------------------------------------------------------

    def history(self, name: str | None = None) -> list[dict[str, Any]]:
        """Per host: builds over time, findings, and transition events (for ``nscheck history``)."""
        keys = self.resolve_hosts(name) if name else [r["key"] for r in self.conn.execute("SELECT key FROM hosts ORDER BY key")]
        out = []
        for k in keys:
            h = self.conn.execute("SELECT * FROM hosts WHERE key=?", (k,)).fetchone()
            obs = [dict(r) for r in self.conn.execute(
                "SELECT o.run_id, o.at, o.status, o.verdict, o.build, o.reached, o.fingerprinted, o.note,"
                " r.status AS run_status FROM observations o LEFT JOIN runs r ON r.id = o.run_id"
                " WHERE o.host_key=? ORDER BY o.at, o.rowid", (k,))]
            for o in obs:
                o["reached"], o["fingerprinted"] = bool(o["reached"]), bool(o["fingerprinted"])
            findings = [_doc(r, transition=r["last_transition"]) for r in self.conn.execute(
                "SELECT * FROM findings WHERE host_key=? AND status != ? ORDER BY status, kind, rule_id", (k, MERGED))]
            titles = {r["id"]: (r["kind"], r["rule_id"]) for r in self.conn.execute(
                "SELECT id, kind, rule_id FROM findings WHERE host_key=?", (k,))}
            events = []
            for r in self.conn.execute("SELECT * FROM events WHERE host_key=? ORDER BY seq", (k,)):
                kind, rule = titles.get(r["finding_id"], (None, None))
                events.append({"at": r["at"], "run_id": r["run_id"], "finding_id": r["finding_id"], "kind": kind,
                               "rule_id": rule, "transition": r["transition"], "detail": json.loads(r["detail"] or "{}")})
            acks = [dict(r, closed=json.loads(r["closed"] or "[]")) for r in self.conn.execute(
                "SELECT at, reason, who, source, closed FROM acks WHERE host_key=? ORDER BY seq", (k,))]
            out.append({
                "host": k, "target": h["target"], "url": h["url"], "first_seen": h["first_seen"],
                "last_seen": h["last_seen"], "seen_count": h["seen_count"], "status": h["last_status"],
                "verdict": h["last_verdict"], "build": h["last_build"], "last_assessed": h["last_assessed"],
                "observations": obs, "findings": findings, "events": events, "triage": acks,
            })
        return out

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM runs ORDER BY started DESC, rowid DESC LIMIT ?", (limit,))
        out = []
        for r in rows:
            d = dict(r)
            d["counts"] = json.loads(d.get("counts") or "{}")
            d["transitions"] = json.loads(d.get("transitions") or "{}")
            out.append(d)
        return out


def schema_version(conn: sqlite3.Connection) -> int:
    has = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    if not has:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, *, upto: int | None = None) -> int:
    """Apply every missing migration, each in its own transaction; return the final version."""
    target = SCHEMA_VERSION if upto is None else upto
    conn.create_function("nscheck_finding_id", 3, finding_id, deterministic=True)
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise StateError(f"state database has schema v{current}, newer than this nscheck (v{SCHEMA_VERSION}); upgrade nscheck")
    if current == 0 and conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]:
        raise sqlite3.DatabaseError("file has tables but no nscheck schema_version")
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version == 1:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
            for stmt in _statements(MIGRATIONS[version - 1]):
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, _now()))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return schema_version(conn)


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT on its own; splitting keeps each migration one transaction.
    return [s.strip() for s in script.split(";") if s.strip()]
