"""Every output format, hung off one result type (``nscheck.model.HostResult``).

Where each format lives:

- ``formats.py``: the ``--format`` list (``OutputFormat``): per format, its stdout sink for a
  running scan or triage and how saved results render
- ``table.py``: the terminal summary (rich); ``progress.py``: the progress bar on stderr
- ``jsonfmt.py``: the per-host JSON contract, and reading saved results back
- ``markdown.py``: the per-host Markdown report
- ``ecs.py``: ECS JSON Lines for a SIEM (``--jsonl``)
- ``csvfmt.py``: CSV (``--csv``); ``html.py``: the fleet overview page (``--html``)
- ``files.py``: atomic writes, safe file names, the ``--output-dir`` sink
- ``exitcodes.py``: exit codes from a running tally; the signature-age check
- ``text.py``: cleaning untrusted strings; ``base.py``: the Sink protocol

Runs (``nscheck.drive``) feed sinks: the ``--format`` one (``OutputFormat.sink``) and the file
outputs (``build_sinks``); ``nscheck report`` feeds saved results to ``render``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from nscheck import __version__
from nscheck.model import HostResult
from nscheck.report.base import RunInfo, RunSummary, Sink
from nscheck.report.exitcodes import ExitTally, check_signature_age, exit_code
from nscheck.report.files import atomic_write, safe_name
from nscheck.report.formats import OutputFormat, RenderContext, StreamSink
from nscheck.report.order import DEFAULT_SORT, SORTS
from nscheck.report.table import render_table

FORMATS = tuple(f.value for f in OutputFormat)

__all__ = [
    "FORMATS",
    "SORTS",
    "ExitTally",
    "OutputFormat",
    "RunInfo",
    "RunSummary",
    "Sink",
    "StreamSink",
    "atomic_write",
    "build_sinks",
    "check_signature_age",
    "exit_code",
    "render",
    "render_table",
    "safe_name",
]


def build_sinks(opts: Any, *, kind: str = "scan", targets: Sequence[str] | None = None) -> list[Sink]:
    """The file outputs the options ask for (``outputs.FILE_OUTPUTS``: JSONL, per-host files, CSV,
    OCSF, HTML), SIEM delivery and the progress bar. ``opts`` is a ScanOptions (or anything with
    the same attribute names). The stdout format (``--format``) and the exit tally are the caller's. ``targets``: every target's name
    when the list is known up front (the progress bar then shows N/total and who is pending).
    The progress bar comes first: closed first, it is gone before anything prints a table."""
    from nscheck.report.outputs import file_sinks

    sinks: list[Sink] = file_sinks(opts)
    if getattr(opts, "syslog", None) or getattr(opts, "hec_url", None):
        from nscheck import deliver

        sinks.extend(deliver.build(opts))
    if kind == "scan":
        from nscheck.report.progress import ProgressSink, wanted

        if wanted(opts):
            sinks.insert(0, ProgressSink(targets=targets))
    return sinks


def synthetic_run(results: Sequence[HostResult], kind: str = "scan") -> tuple[RunInfo, RunSummary]:
    """A RunInfo/RunSummary for re-rendered results (``nscheck report``): times from the results."""
    starts = sorted(r.started for r in results if r.started)
    started = starts[0] if starts else dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    import hashlib

    rid = "report-" + hashlib.sha256("|".join(f"{r.target}|{r.started}" for r in results).encode()).hexdigest()[:12]
    kinds = {r.kind for r in results}
    info = RunInfo(run_id=rid, started=started, kind=kinds.pop() if len(kinds) == 1 else kind, tool_version=__version__,
                   command="nscheck report")
    counts = Counter(r.verdict.value for r in results)
    summary = RunSummary(run=info, ended=starts[-1] if starts else started, duration_ms=0, hosts=len(results),
                         counts=dict(counts), requests_sent=sum(r.requests_sent for r in results))
    return info, summary


def render(results: Sequence[HostResult], fmt: str, out: TextIO, *, run: RunInfo | None = None,
           summary: RunSummary | None = None, observer_hostname: str | None = None, color: bool | None = None,
           link_prefix: str | None = None, sort: str = DEFAULT_SORT, width: int | None = None) -> None:
    """Render results in one format to ``out`` (``nscheck report``, golden tests): see
    ``OutputFormat.render`` and ``RenderContext``. ``sort``: host order (urgency by default, see
    ``order.py``); JSON and JSONL keep input order."""
    try:
        of = OutputFormat(fmt)
    except ValueError:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})") from None
    if run is None or summary is None:
        info, summ = synthetic_run(results)
        run, summary = run or info, summary or summ
    of.render(results, out, RenderContext(run=run, summary=summary, observer_hostname=observer_hostname, color=color,
                                          link_prefix=link_prefix, width=width), sort=sort)
