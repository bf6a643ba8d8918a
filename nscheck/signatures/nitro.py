"""``nscheck signatures lint`` for ``nitro.yaml`` (the loader lives in nscheck.nitro.rolemap).

Besides the schema, lint checks coverage: every role in manifest.yaml (the tokens `requires:`
may use) is mapped to NITRO resources or declared ``not_decidable`` with a reason, and every
mitigation names a bulletin that exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nscheck.signatures import SignatureError, register_loader


def load(directory: Path) -> Any:
    from nscheck.nitro.rolemap import load_nitro_map
    from nscheck.signatures._yaml import line_of, load_yaml

    path = directory / "nitro.yaml"
    if not path.exists():
        return {}  # optional: without it, NITRO credentials are refused at scan time
    nmap = load_nitro_map(directory)
    raw = load_yaml(path)
    errors: list[SignatureError] = []
    manifest = directory / "manifest.yaml"
    if manifest.exists():
        roles = (load_yaml(manifest) or {}).get("roles") or {}
        missing = sorted(set(roles) - set(nmap.roles))
        unknown = sorted(set(nmap.roles) - set(roles))
        for r in unknown:
            errors.append(SignatureError(path, f"role {r!r} is not in manifest.yaml roles (a typo?)", field=f"roles.{r}",
                                         line=line_of(raw.get("roles"), r)))
        if missing:
            errors.append(SignatureError(path, f"roles with neither a NITRO mapping nor not_decidable: {', '.join(missing)}",
                                         field="roles", line=line_of(raw, "roles")))
    adv_dir = directory / "advisories"
    if adv_dir.is_dir():
        ids = {p.stem for p in adv_dir.glob("*.yaml")}
        for i, m in enumerate(nmap.mitigations):
            if m.advisory not in ids:
                items = raw.get("mitigations") or []
                line = getattr(items[i], "start_line", None) if i < len(items) else None
                errors.append(SignatureError(path, f"mitigation {m.id}: no bulletin {m.advisory} in advisories/",
                                             field="mitigations", line=line))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ExceptionGroup(f"{path}: {len(errors)} problems", errors)
    return nmap.roles


register_loader("nitro", load)
