"""The per-host JSON document: ``HostResult.to_dict()`` (schema ``nscheck.host/1`` or
``nscheck.triage/1``), pretty-printed with sorted keys so files diff well."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeGuard

from nscheck.model import HostResult


def host_json(result: HostResult) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=True, default=str) + "\n"


def results_json(results: Iterable[HostResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2, sort_keys=True, ensure_ascii=True, default=str) + "\n"


def is_host_document(d: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(d, dict) and str(d.get("schema", "")).startswith(("nscheck.host/", "nscheck.triage/"))


class ReportInputError(ValueError):
    """A saved-results file that cannot be read, with file:line."""


def _from_line(obj: Any) -> HostResult | None:
    if is_host_document(obj):
        return HostResult.from_dict(obj)
    if isinstance(obj, dict) and (obj.get("event") or {}).get("dataset") == "nscheck.host":
        inner = (obj.get("nscheck") or {}).get("result")
        if is_host_document(inner):
            return HostResult.from_dict(inner)
    return None  # finding and run documents: the host document carries everything


def load_results(inputs: Iterable[str], warnings: list[str] | None = None) -> list[HostResult]:
    """Saved results back into HostResults: ECS JSONL files (shards may be concatenated),
    plain host-document JSONL or JSON (object or array), or --output-dir directories; '-' is stdin.
    Lines that are not JSON (the last line of a killed run) are skipped and said in ``warnings``."""
    return [r for _, rs in load_runs(inputs, warnings) for r in rs]


def load_runs(inputs: Iterable[str], warnings: list[str] | None = None) -> list[tuple[str | None, list[HostResult]]]:
    """Like ``load_results``, grouped by run id (ECS ``nscheck.run_id``) in order of first
    appearance: a ``--jsonl`` file appended to by every cron run holds many runs. Results
    without a run id (per-host JSON, --output-dir) form one group with id None."""
    import sys
    from pathlib import Path

    groups: dict[str | None, list[HostResult]] = {}

    def add(run_id: str | None, r: HostResult) -> None:
        groups.setdefault(run_id, []).append(r)

    for name in inputs:
        if name != "-" and Path(name).is_dir():
            files = sorted(p for p in Path(name).glob("*.json") if not p.name.startswith("."))
            for p in files:
                try:
                    obj = json.loads(p.read_text(encoding="utf-8"))
                except (OSError, ValueError, RecursionError) as e:
                    raise ReportInputError(f"{p}: {e}") from None
                if is_host_document(obj):
                    add(None, _safe_from(obj, str(p)))
            continue
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise ReportInputError(f"{name}: {e.strerror or e}") from None
        stripped = text.lstrip()
        if stripped.startswith("[") or (stripped.startswith("{") and "\n{" not in stripped.rstrip()):
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the stack
                obj = None
            if obj is not None:
                items = obj if isinstance(obj, list) else [obj]
                for n, it in enumerate(items):
                    r = _from_line(it)
                    if r is None and not (isinstance(it, dict) and "event" in it):
                        raise ReportInputError(f"{name}: item {n}: not an nscheck host document")
                    if r is not None:
                        add(_run_id_of(it), r)
                continue
        bad: list[int] = []
        good = 0  # host results read from this file
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                # Not a complete JSON document: a run killed mid-write, or a line cut by a log
                # shipper. Every complete line is still worth rendering.
                bad.append(lineno)
                continue
            try:
                r = _from_line(obj)
            except (KeyError, ValueError, TypeError) as e:
                raise ReportInputError(f"{name}:{lineno}: bad host document: {e}") from None
            if r is None and not (isinstance(obj, dict) and "event" in obj):
                raise ReportInputError(f"{name}:{lineno}: not an nscheck host or ECS document")
            if r is not None:
                good += 1
                add(_run_id_of(obj), r)
        if bad:
            where = ", ".join(f"{name}:{n}" for n in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
            msg = f"skipped {len(bad)} line(s) that are not complete JSON (a killed run?): {where}: not JSON"
            if not good:
                raise ReportInputError(msg)
            if warnings is not None:
                warnings.append(msg)
    return list(groups.items())


def _run_id_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        ns = obj.get("nscheck")
        if isinstance(ns, dict) and isinstance(ns.get("run_id"), str):
            return ns["run_id"]
    return None


def _safe_from(obj: Any, where: str) -> HostResult:
    try:
        return HostResult.from_dict(obj)
    except (KeyError, ValueError, TypeError) as e:
        raise ReportInputError(f"{where}: bad host document: {e}") from None
