"""Compare a scan result with what the lab simulated (the demo's self-check, and scanner tests)."""

from __future__ import annotations

from typing import Any

from nscheck.lab.server import LabTarget

__all__ = ["disagreements"]


def _get(obj: Any, *names: str) -> Any:
    for n in names:
        obj = getattr(obj, n, None) if not isinstance(obj, dict) else obj.get(n)
        if obj is None:
            return None
    return obj


def disagreements(target: LabTarget, result: Any) -> list[str]:
    """Where ``result`` (a HostResult) differs from ``target.expected``; empty when it agrees.
    Only what the lab makes knowable is checked: status, product, roles, exact build."""
    exp = target.expected
    out: list[str] = []
    status = str(getattr(_get(result, "status"), "value", _get(result, "status")))
    if status not in exp["status_any"]:
        out.append(f"status {status}, lab expects {' or '.join(exp['status_any'])}")
        return out
    if status != "ok":
        return out
    is_ns = _get(result, "product", "is_netscaler")
    if is_ns is not None and bool(is_ns) != exp["is_netscaler"]:
        out.append(f"is_netscaler {is_ns}, lab simulates {exp['is_netscaler']}")
        return out
    if is_ns is None and exp["is_netscaler"]:
        out.append("product undecided, lab simulates a NetScaler")
        return out
    if not exp["is_netscaler"]:
        return out
    roles = sorted(_get(result, "product", "roles") or ())
    if roles != exp["roles"]:
        out.append(f"roles {','.join(roles) or '-'}, lab simulates {','.join(exp['roles'])}")
    b = _get(result, "build")
    exact = f"{b.release}-{b.build}" if b is not None and b.exact and b.release and b.build else None
    if exp["build"] and exact != exp["build"]:
        out.append(f"build {exact or 'not exact'}, lab serves {exp['build']} exactly")
    elif not exp["build"] and exact and exact != exp.get("build_true"):
        out.append(f"build {exact} claimed exactly, but the lab runs {exp.get('build_true')}")
    if exp.get("floor") and not exact:
        said = " ".join(filter(None, [_get(result, "build", "floor") or "", *(_get(result, "build", "candidates") or ())]))
        if exp["floor"] not in said:
            out.append(f"no floor {exp['floor']} reported (nsepa.deb size), said {said or 'nothing'}")
    return out
