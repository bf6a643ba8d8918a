"""The per-host JSON document: ``HostResult.to_dict()`` (schema ``nscheck.host/1`` or
``nscheck.triage/1``), pretty-printed with sorted keys so files diff well."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from nscheck.model import HostResult


def host_json(result: HostResult) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=True, default=str) + "\n"


def results_json(results: Iterable[HostResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2, sort_keys=True, ensure_ascii=True, default=str) + "\n"


def is_host_document(d: Any) -> bool:
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


def load_results(inputs: Iterable[str]) -> list[HostResult]:
    """Saved results back into HostResults: ECS JSONL files (shards may be concatenated),
    plain host-document JSONL or JSON (object or array), or --output-dir directories; '-' is stdin."""
    import sys
    from pathlib import Path

    out: list[HostResult] = []
    for name in inputs:
        if name != "-" and Path(name).is_dir():
            files = sorted(p for p in Path(name).glob("*.json") if not p.name.startswith("."))
            for p in files:
                try:
                    obj = json.loads(p.read_text(encoding="utf-8"))
                except (OSError, ValueError) as e:
                    raise ReportInputError(f"{p}: {e}") from None
                if is_host_document(obj):
                    out.append(_safe_from(obj, str(p)))
            continue
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as e:
            raise ReportInputError(f"{name}: {e.strerror or e}") from None
        stripped = text.lstrip()
        if stripped.startswith("[") or (stripped.startswith("{") and "\n{" not in stripped.rstrip()):
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            if obj is not None:
                items = obj if isinstance(obj, list) else [obj]
                for n, it in enumerate(items):
                    r = _from_line(it)
                    if r is None and not (isinstance(it, dict) and "event" in it):
                        raise ReportInputError(f"{name}: item {n}: not an nscheck host document")
                    if r is not None:
                        out.append(r)
                continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ReportInputError(f"{name}:{lineno}: not JSON: {e}") from None
            try:
                r = _from_line(obj)
            except (KeyError, ValueError, TypeError) as e:
                raise ReportInputError(f"{name}:{lineno}: bad host document: {e}") from None
            if r is None and not (isinstance(obj, dict) and "event" in obj):
                raise ReportInputError(f"{name}:{lineno}: not an nscheck host or ECS document")
            if r is not None:
                out.append(r)
    return out


def _safe_from(obj: Any, where: str) -> HostResult:
    try:
        return HostResult.from_dict(obj)
    except (KeyError, ValueError, TypeError) as e:
        raise ReportInputError(f"{where}: bad host document: {e}") from None
