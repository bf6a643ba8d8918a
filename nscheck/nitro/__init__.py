"""Authenticated checks over NITRO (read-only GETs with the owner's credentials).

``NitroContext`` is loaded once per run (credentials, ``signatures/nitro.yaml``, the webshell
file names to look for); ``nitro_stage`` reads one host after its remote scan and ``combine``
merges the two: NITRO wins for the build (a disagreement is reported as a conflict), decides
the role facts it can read, marks bulletins whose interim mitigation is in place as
``mitigated``, and every verdict NITRO changed carries ``method: nitro`` and its evidence.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nscheck.model import (
    AdvisoryResult,
    BuildInfo,
    Confidence,
    Evidence,
    Precondition,
    ProductInfo,
    SkipKind,
    Skipped,
    Verdict,
)
from nscheck.nitro.credentials import CredentialError, NitroAccess, NitroCredentials, load_credentials
from nscheck.nitro.rolemap import NitroMap, load_nitro_map

if TYPE_CHECKING:
    from nscheck.fingerprint.engine import Fingerprint
    from nscheck.inputs import ScanInputs
    from nscheck.nitro.probe import NitroRead
    from nscheck.options import ScanOptions
    from nscheck.probe.types import Fetcher, HostProber
    from nscheck.targets import Target

__all__ = ["CredentialError", "NitroContext", "combine", "load_context", "nitro_stage", "plan_lines"]

DEFAULT_BUDGET = 80


@dataclass
class NitroContext:
    creds: NitroCredentials
    nmap: NitroMap
    file_dirs: tuple[tuple[str, dict[str, str]], ...] = ()
    # NITRO addresses whose credentials were rejected this run: never tried again (lockout).
    rejected: set[tuple[str, str]] = field(default_factory=set)
    exclusions: Any = None  # nscheck.targets.Exclusions: --exclude applies to NITRO addresses too


def _indicator_paths(signatures_dir: Path, sources: Sequence[str]) -> list[str]:
    from nscheck.signatures._yaml import load_yaml

    out: list[str] = []
    for src in sources:
        p = signatures_dir / src
        if p.suffix in (".yaml", ".yml"):
            doc = load_yaml(p)
            for rule in (doc or {}).get("rules") or ():
                if isinstance(rule, dict) and rule.get("check") in ("webshell", "artefact"):
                    out += [x for x in ((rule.get("path") or {}).get("paths") or ()) if isinstance(x, str)]
        else:
            try:
                text = p.read_text(encoding="utf-8")
            except OSError:
                continue
            out += [ln.strip() for ln in text.splitlines() if ln.strip().startswith("/")]
    return list(dict.fromkeys(out))


def file_dirs(nmap: NitroMap, signatures_dir: Path) -> tuple[tuple[str, dict[str, str]], ...]:
    """(directory on the appliance, {file name: indicator URL path}) for the systemfile listing."""
    if nmap.files is None:
        return ()
    dirs: dict[str, dict[str, str]] = {}
    for url_path in _indicator_paths(signatures_dir, nmap.files.sources):
        for prefix, base in nmap.files.url_to_dir.items():
            if url_path.startswith(prefix):
                rest = url_path[len(prefix):]
                d, _, name = rest.rpartition("/")
                if name:
                    dirs.setdefault(base + (d + "/" if d else ""), {})[name] = url_path
                break
    ordered = sorted(dirs.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return tuple(ordered[: nmap.files.max_directories])


def load_context(opts: Any) -> NitroContext | None:
    """None when no NITRO credentials were given. Raises CredentialError / SignatureError."""
    creds = load_credentials(opts)
    if creds is None:
        return None
    from nscheck.targets import load_exclusions

    sigdir = Path(opts.signatures_path)
    nmap = load_nitro_map(sigdir)
    ex = load_exclusions(getattr(opts, "exclude", ()), getattr(opts, "exclude_files", ()), lambda _e: None)
    return NitroContext(creds, nmap, file_dirs(nmap, sigdir), exclusions=ex)


def _address(target: Any, fetcher: Any, access: NitroAccess) -> tuple[str | None, str | None]:
    """(NITRO base URL, None) or (None, why not)."""
    if access.nitro_url:
        return access.nitro_url, None
    if getattr(fetcher, "plain_http", False):
        return None, ("not sent: the scanned https address answered in plain http; credentials go over http only "
                      "to an http URL you give (target or credentials file)")
    base = getattr(fetcher, "base_url", None) or target.url
    p = urlsplit(base)
    if p.scheme == "http" and target.scheme != "http":
        return None, "not sent: the address is plain http and was not given as http"
    return f"{p.scheme}://{p.netloc}", None


async def nitro_stage(target: Target, fp: Fingerprint | None, fetcher: Fetcher, client: HostProber, opts: ScanOptions,
                      ctx: NitroContext) -> tuple[NitroRead | None, list[Skipped]]:
    """Read one host over NITRO. Returns (NitroRead | None, skipped notes). Never raises."""
    from nscheck.nitro.probe import read_appliance

    access = ctx.creds.lookup(target.raw, target.host, target.port)
    if access is None:
        return None, []
    is_ns = bool(fp is not None and fp.product.is_netscaler)
    if not access.explicit and not is_ns:
        return None, [Skipped("nitro", "not sent: the host was not identified as NetScaler (credentials given with "
                                       "--nitro-user / [default] go only to NetScaler hosts; name a host in "
                                       "--nitro-credentials to ask it anyway)")]
    base, why = _address(target, fetcher, access)
    if base is None:
        return None, [Skipped("nitro", why or "not sent")]
    if ctx.exclusions:
        from nscheck.targets import parse_target

        try:
            nt = next(iter(parse_target(base)))
        except Exception:
            return None, [Skipped("nitro", "not sent: the NITRO address is not a valid target")]
        if ctx.exclusions.excludes(nt):
            return None, [Skipped("nitro", f"not sent: the NITRO address {base} is excluded (--exclude)")]
    key = (access.user, base)
    if key in ctx.rejected:
        return None, [Skipped("nitro", f"not sent: the credentials for {base} were rejected earlier in this run")]
    nf = client.nitro_fetcher(base, access.user, access.password, getattr(opts, "host_deadline", 30.0),
                              getattr(opts, "nitro_budget", DEFAULT_BUDGET))
    try:
        read = await read_appliance(nf, ctx.nmap, file_dirs=ctx.file_dirs)
    except Exception as e:  # a bug must not lose the remote result; the note never carries the password
        return None, [Skipped("nitro", access.password.scrub(f"internal error: {type(e).__name__}: {e}"),
                                 SkipKind.INTERNAL_ERROR)]
    finally:
        aclose = getattr(nf, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    if read.status == "rejected":
        ctx.rejected.add(key)
    skips = [Skipped("nitro", n) for n in read.notes]
    if read.files_coverage and not read.files_coverage.startswith("systemfile: listed"):
        skips.append(Skipped("nitro_files", read.files_coverage))  # a gap in coverage, said per host
    return read, skips


def _build_info(read: Any, remote: BuildInfo | None) -> BuildInfo:
    b = read.build
    conflict = None
    if remote is not None:
        rplain = {c.split()[0] for c in remote.candidates}
        if remote.exact and remote.build and f"{remote.release}-{remote.build}" != b.plain:
            conflict = (f"remote evidence says {remote.release}-{remote.build}, NITRO says {b.plain}: NITRO wins "
                        "(a proxy or another box in front of this address, or a wrong table row)")
        elif rplain and b.plain not in rplain and not remote.floor:
            conflict = (f"remote candidates {', '.join(sorted(rplain)[:4])} do not include {b.plain} (NITRO): "
                        "NITRO wins (a proxy in front, or a wrong table row)")
        elif remote.floor:
            try:
                from nscheck.build import parse_build

                fl = parse_build(remote.floor)
                if fl.same_release(b) and b.older_than(fl):
                    conflict = f"remote floor {remote.floor} is newer than {b.plain} (NITRO): NITRO wins"
            except Exception:
                pass
        if remote.conflict:
            conflict = f"{conflict}; {remote.conflict}" if conflict else f"remote: {remote.conflict}"
    methods = (*(remote.methods if remote else ()), *read.evidence)
    ed = b.edition.value if b.edition is not None else None
    return BuildInfo(b.release, b.number, ed, True, (str(b),), methods, Confidence.HIGH, conflict, None)


def combine(fp: Fingerprint | None, read: NitroRead, sigs: ScanInputs) -> dict[str, Any]:
    """Merge a NITRO read into the remote fingerprint: product, build, facts, verdicts.

    Returns {"product", "build", "advisories", "remediation", "extra"} for the HostResult."""
    from nscheck.assess.advisories import assess

    product: ProductInfo = fp.product if fp is not None else ProductInfo(None)
    remote_build: BuildInfo | None = fp.build if fp is not None else None
    remote_facts: Mapping[str, Precondition] = dict(fp.facts) if fp is not None else {}
    facts: dict[str, Precondition] = dict(remote_facts)
    notes: list[str] = []
    for role, state in read.facts.items():
        before = remote_facts.get(role)
        if state is Precondition.UNKNOWN:
            continue
        if state is Precondition.NOT_MET and before is Precondition.MET:
            notes.append(f"role {role}: the remote scan saw it, NITRO at {read.address} reports none; kept as met")
            continue
        facts[role] = state
    if read.build is not None and product.is_netscaler is not True:
        product = ProductInfo(True, product.roles, Confidence.HIGH, (*product.evidence, *read.evidence[:1]))
    build = _build_info(read, remote_build) if read.build is not None else remote_build
    builds = (read.build,) if read.build is not None else tuple(fp.builds if fp is not None else ())
    result = assess(sigs.advisories, builds, facts)
    advs = list(result.advisories)
    if read.build is None and fp is not None and fp.bound and remote_build is not None:
        from nscheck.assess.dated import bound_by_fingerprint

        advs = list(bound_by_fingerprint(sigs.advisories, sigs.tables, advs, fp, facts))
    before_assess = _remote_verdicts(fp, sigs)
    out: list[AdvisoryResult] = []
    changed: dict[str, str] = {}  # bulletin -> "remote verdict -> NITRO verdict" where they differ
    for a in advs:
        ev = _evidence_for(a, read, sigs)
        if a.verdict is Verdict.VULNERABLE and a.id in read.mitigations:
            m = read.mitigations[a.id]
            a = replace(a, verdict=Verdict.MITIGATED,
                        reason=f"mitigated, not patched: {m.detail}; upgrade still required ({a.reason})")
            ev = (*ev, m)
        was = before_assess.get(a.id)
        if was is not None and was is not a.verdict:
            changed[a.id] = f"{was.value} -> {a.verdict.value}"
        if was is not a.verdict or ev:
            a = replace(a, method="nitro", evidence=tuple(ev))
        out.append(a)
    extra = {
        "address": read.address,
        "status": read.status,
        "build": read.version_text,
        "platform": read.platform,
        "edition": read.edition_evidence,
        "roles": {k: v.value for k, v in read.facts.items()},
        "role_evidence": {k: e.detail for k, e in read.role_evidence.items()},
        "forbidden": list(read.forbidden),
        "mitigations": {k: e.detail for k, e in read.mitigations.items()},
        "files": read.files_coverage,
        "changed": changed,
        "notes": list(read.notes) + notes,
        "requests_sent": read.requests_sent,
    }
    return {"product": product, "build": build, "advisories": tuple(out), "remediation": result.remediation,
            "extra": extra}


def _remote_verdicts(fp: Fingerprint | None, sigs: ScanInputs) -> dict[str, Verdict]:
    """What the remote evidence alone said per bulletin (to mark what NITRO decided)."""
    if fp is None or not fp.product.is_netscaler:
        return {}
    from nscheck.assess.advisories import assess

    advs = assess(sigs.advisories, fp.builds, fp.facts).advisories
    if fp.bound and fp.build is not None:
        from nscheck.assess.dated import bound_by_fingerprint

        advs = bound_by_fingerprint(sigs.advisories, sigs.tables, advs, fp, fp.facts)
    return {a.id: a.verdict for a in advs}


def _evidence_for(a: AdvisoryResult, read: Any, sigs: Any) -> tuple[Evidence, ...]:
    """The NITRO observations the bulletin's verdict rests on: the build and its roles."""
    out: list[Evidence] = []
    if read.build is not None and read.evidence:
        out.append(read.evidence[0])
    adv = _advisory(sigs, a.id)
    roles: list[str] = []
    for cve in getattr(adv, "cves", ()) or ():
        for group in getattr(cve, "requires", None) or ():
            roles += list(group)
    for r in dict.fromkeys(roles):
        e = read.role_evidence.get(r)
        if e is not None:
            out.append(e)
    return tuple(out)


def _advisory(sigs: Any, adv_id: str) -> Any:
    for adv in getattr(sigs.advisories, "advisories", ()) or ():
        if getattr(adv, "id", None) == adv_id:
            return adv
    return None


def plan_lines(ctx: NitroContext, target: Any) -> list[str]:
    """--dry-run: the NITRO requests for one target, password shown as ***."""
    from nscheck.nitro.probe import nitro_paths

    access = ctx.creds.lookup(target.raw, target.host, target.port)
    if access is None:
        return []
    base = access.nitro_url or f"{target.scheme}://{target.netloc}"
    cond = "" if access.explicit else " (only if the host is a NetScaler)"
    out = [f"# NITRO at {base} as {access.user} ({access.source}){cond}; stops at the first 401:"]
    for path in nitro_paths(ctx.nmap, [d for d, _ in ctx.file_dirs]):
        out.append(f"GET {base}{path}")
        out.append("    Accept: application/json")
        out.append(f"    X-NITRO-USER: {access.user}")
        out.append("    X-NITRO-PASS: ***")
    return out
