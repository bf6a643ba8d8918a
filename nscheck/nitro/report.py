"""The per-host "Authenticated checks (NITRO)" section of the Markdown report.

Everything shown comes from ``HostResult.extra["nitro"]`` (appliance-supplied text): each cell
goes through the report's own escaping (``md_cell``). No credential is ever in that dict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def nitro_markdown(extra: dict[str, Any] | None, cell: Callable[..., str]) -> list[str]:
    n = (extra or {}).get("nitro")
    if not isinstance(n, dict):
        return []
    out = ["## Authenticated checks (NITRO)", ""]
    out.append(f"- Address: {cell(str(n.get('address') or ''))}; status: **{cell(str(n.get('status') or ''))}**"
               f"; {int(n.get('requests_sent') or 0)} GET request(s)")
    if n.get("build"):
        out.append(f"- `show ns version`: {cell(str(n['build']))}")
    if n.get("platform"):
        out.append(f"- Platform: {cell(str(n['platform']))}")
    if n.get("edition"):
        out.append(f"- Edition: {cell(str(n['edition']))}")
    changed = n.get("changed") or {}
    if changed:
        out.append("- Decided by NITRO (remote verdict -> now): "
                   + cell(", ".join(f"{k} {v}" for k, v in sorted(changed.items())), 600))
    for adv, why in sorted((n.get("mitigations") or {}).items()):
        out.append(f"- Mitigation in place for {cell(adv)} (not a fix): {cell(str(why), 300)}")
    if n.get("files"):
        out.append(f"- Files: {cell(str(n['files']), 300)}")
    for note in n.get("notes") or ():
        out.append(f"- Note: {cell(str(note), 300)}")
    roles = n.get("roles") or {}
    if roles:
        ev = n.get("role_evidence") or {}
        out += ["", "| role | state | NITRO evidence |", "|---|---|---|"]
        out += [f"| {cell(r)} | {cell(str(s))} | {cell(str(ev.get(r, '')), 200)} |" for r, s in sorted(roles.items())]
    out.append("")
    return out
