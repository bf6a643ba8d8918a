"""Simulated appliances, declared as data.

A ``Profile`` says what one lab host is (a NetScaler of some build and roles, a look-alike, or a
fault); ``expected(profile)`` says what a correct scanner should conclude about it. The expected
answer is for tests and the demo's self-check only: it is never sent over the wire.

Kinds: ``netscaler``, ``catchall`` (200 with the login page for every path), ``plain`` (an
ordinary web server), ``phishing`` (a copy of the Gateway page and nothing else), ``fault``.
Faults: see ``FAULTS``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nscheck.build import edition_candidates, parse_build

__all__ = [
    "FAULTS",
    "KINDS",
    "PRESETS",
    "ROLES",
    "WEBSHELL_PATH",
    "Profile",
    "expected",
    "many_hosts",
    "preset",
]

KINDS = ("netscaler", "catchall", "plain", "phishing", "fault")
ROLES = ("gateway", "aaa", "management")
FAULTS = (
    "refused",  # nothing listens: connection refused
    "silent",  # accepts the connection and never sends a byte
    "reset",  # accepts, reads, then resets the connection (RST)
    "broken_tls",  # answers the TLS ClientHello with a handshake_failure alert
    "drip",  # sends headers, then the body one byte at a time
    "endless",  # 200 with a chunked body that never ends
    "gzip_bomb",  # a small gzip body that inflates to hundreds of megabytes
    "redirect",  # every path redirects to another host
)
# One of the paths published as a webshell location (iocs/netscaler-webshell-paths.txt).
WEBSHELL_PATH = "/logon/LogonPoint/index.php"  # an NCSC-NL 2025 webshell name, also in the 198-path list


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str = "netscaler"
    build: str | None = None  # e.g. "14.1-43.50"
    edition: str | None = None  # standard | fips | ndcpp; None = the build number's natural train
    roles: tuple[str, ...] = ()
    fault: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # Options (all optional): rdx (auto|zeroed|stamp|absent), customised (org name), regzip,
    # stamp (an explicit rdx MTIME), file_dates (build|none: Last-Modified/ETag served), compromised,
    # theme_fonts (clean customised theme), webshell_path, host (bind address), cache_via (Via:
    # NS-CACHE header on static files, default True), netscaler (catchall only), pluginlist_body
    # (served verbatim as /vpn/pluginlist.xml: hostile-content tests).

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"profile {self.name}: unknown kind {self.kind!r} (expected one of {', '.join(KINDS)})")
        if self.kind == "fault" and self.fault not in FAULTS:
            raise ValueError(f"profile {self.name}: unknown fault {self.fault!r} (expected one of {', '.join(FAULTS)})")
        for r in self.roles:
            if r not in ROLES:
                raise ValueError(f"profile {self.name}: unknown role {r!r}")
        if self.kind in ("netscaler", "catchall") and self.build:
            parse_build(self.build)  # fail early on a typo

    def opt(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


def _build_expectation(p: Profile) -> dict[str, Any]:
    from nscheck.lab.content import build_facts

    out: dict[str, Any] = {"build": None, "floor": None, "before": None, "build_true": p.build}
    if not p.build:
        return out
    f = build_facts(p.build, p.edition, p.opt("rdx", "auto"), stamp_override=p.opt("stamp"))
    out["edition_true"] = f.edition.value
    out["edition_candidates"] = [e.value for e in edition_candidates(parse_build(p.build))]
    out["rdx"] = f.rdx
    serves_rdx = p.kind == "netscaler" and any(r in ("gateway", "aaa") for r in p.roles)
    # A stamp known only from low-confidence rows is a candidate, not the build (issue 11 §2).
    by_stamp = f.rdx == "stamp" and f.stamp_known and f.stamp_unique and f.stamp_trusted
    by_vhash = bool(f.vhash) and f.classic_page and not p.opt("customised")
    if serves_rdx and (by_stamp or by_vhash):
        out["build"] = f.build.plain
    if serves_rdx and f.epa_size is not None and "gateway" in p.roles and out["build"] is None:
        if f.epa_relation == "floor":
            out["floor"] = f.epa_anchor
        elif f.epa_relation == "before":
            out["before"] = f.epa_anchor
    # The edition is only knowable when the build is, and the build number names one train.
    if out["build"] and len(out["edition_candidates"]) == 1:
        out["edition"] = out["edition_candidates"][0]
    return out


def expected(p: Profile) -> dict[str, Any]:
    """What a correct scanner says about ``p``: is_netscaler, roles, build (exact, or None with
    a floor/before bound when only that is knowable), edition, status, compromise signs."""
    exp: dict[str, Any] = {
        "is_netscaler": False,
        "roles": [],
        "build": None,
        "floor": None,
        "before": None,
        "edition": None,
        "status": "ok",
        "status_any": ["ok"],
        "compromised": False,
        "indicators": [],
    }
    if p.kind == "netscaler":
        exp["is_netscaler"] = True
        exp["roles"] = sorted(p.roles)
        exp.update(_build_expectation(p))
        if p.opt("compromised"):
            exp["compromised"] = True
            exp["indicators"] = ["external_script", "exfil_endpoint", "webshell"]
    elif p.kind == "catchall":
        exp["is_netscaler"] = bool(p.opt("netscaler", True))
        exp["roles"] = ["gateway"] if exp["is_netscaler"] else []
    elif p.kind == "fault":
        status = {
            "refused": ("unreachable", ["unreachable"]),
            "silent": ("unreachable", ["unreachable", "error"]),
            "reset": ("unreachable", ["unreachable", "error"]),
            "broken_tls": ("error", ["error", "unreachable"]),
            "drip": ("error", ["error", "ok"]),
            "endless": ("ok", ["ok", "error"]),
            "gzip_bomb": ("ok", ["ok", "error"]),
            "redirect": ("ok", ["ok", "error"]),
        }[p.fault or ""]
        exp["status"], exp["status_any"] = status[0], list(status[1])
    return exp


# ------------------------------------------------------------------------------------------ presets
def _ns(name: str, build: str, roles: tuple[str, ...] = ("gateway",), edition: str | None = None,
        **options: Any) -> Profile:
    return Profile(name=name, kind="netscaler", build=build, edition=edition, roles=roles, options=options)


def _fault(name: str, fault: str, **options: Any) -> Profile:
    return Profile(name=name, kind="fault", fault=fault, options=options)


def _patched_build(release: str = "14.1") -> str:
    """The first build on ``release`` that closes every bulletin of the shipped signature set
    (computed, so new bulletins do not turn the demo's clean appliance vulnerable)."""
    from nscheck.assess.advisories import assess, load_default
    from nscheck.build import parse_build

    rem = assess(load_default(), [parse_build(f"{release}-1.1")]).remediation
    first = (rem.upgrade_to or "").split(" or ")[0].split(" ")[0]
    return first or f"{release}-99.99"


def _demo() -> list[Profile]:
    return [
        _ns("gw-14.1-43.50", "14.1-43.50"),
        _ns("gw-14.1-56.74", "14.1-56.74"),
        _ns("gw-13.1-58.21", "13.1-58.21"),
        _ns("gw-13.1-61.26", "13.1-61.26"),
        _ns("gw-14.1-73.37-zeroed", "14.1-73.37"),
        # Zeroed stamp too, but `nscheck demo` reads it over NITRO with the lab account: its
        # verdicts are definite only thanks to NITRO (exact build, no SAML configured).
        # no file dates on the NITRO demo hosts: remotely only a floor, so what NITRO decides is
        # visibly NITRO's (with dates the compile date would already decide some bulletins)
        _ns("gw-zeroed-nitro-14.1-66.59", "14.1-66.59", nitro_demo=True, file_dates="none"),
        # Patched and clean: the first 14.1 build that closes every bulletin in the data, which
        # only NITRO can tell exactly (its rdx stamp is zeroed): the demo shows not_vulnerable too.
        _ns(f"gw-patched-nitro-{_patched_build()}", _patched_build(), nitro_demo=True, file_dates="none"),
        _ns("gw-fips-13.1-37.241", "13.1-37.241", edition="fips"),
        _ns("aaa-13.1-59.22", "13.1-59.22", roles=("aaa",)),
        _ns("mgmt-14.1", "14.1-47.46", roles=("management",)),
        # Patched is not clean: a skimmer in the login page and a webshell (NCSC-NL 2025 advice).
        _ns("gw-compromised-14.1-47.48", "14.1-47.48", compromised=True),
        Profile(name="plain-nginx", kind="plain"),
        _fault("unreachable", "refused"),
    ]


def _indicators() -> list[Profile]:
    return [
        _ns("gw-compromised-14.1-43.50", "14.1-43.50", compromised=True),
        _ns("gw-clean-custom-13.1-59.22", "13.1-59.22", theme_fonts=True),
        _ns("gw-clean-14.1-47.48", "14.1-47.48"),
        Profile(name="catchall-gateway", kind="catchall", build="13.1-51.15"),
        Profile(name="phishing-clone", kind="phishing", build="13.1-49.13"),
    ]


def _full() -> list[Profile]:
    profiles = [
        _ns("gw-12.1-50.28-vhash", "12.1-50.28"),
        _ns("gw-13.0-47.22", "13.0-47.22"),
        _ns("gw-13.0-91.13", "13.0-91.13"),
        _ns("gw-13.1-49.13", "13.1-49.13"),
        _ns("gw-14.1-43.50", "14.1-43.50"),
        _ns("gw-aaa-14.1-47.46", "14.1-47.46", roles=("gateway", "aaa")),
        _ns("aaa-13.1-59.22", "13.1-59.22", roles=("aaa",)),
        _ns("mgmt-13.1", "13.1-58.32", roles=("management",)),
        _ns("gw-fips-13.1-37.241", "13.1-37.241", edition="fips"),
        _ns("gw-fips-12.1-55.330", "12.1-55.330", edition="fips"),
        _ns("gw-fips-13.1-37.279-unknown-stamp", "13.1-37.279", edition="fips"),
        _ns("gw-zeroed-13.1-62.23", "13.1-62.23"),
        _ns("gw-zeroed-14.1-66.59", "14.1-66.59"),
        # a front end strips Last-Modified/ETag: only the zeroed file's floor is left
        _ns("gw-zeroed-nodate-14.1-66.59", "14.1-66.59", file_dates="none"),
        # a 2021 build whose stamp no table lists: its compile date alone decides later bulletins
        _ns("gw-dated-unknown-stamp-13.0", "13.0-82.30", rdx="stamp", stamp=1620000000),
        # citrixscan's stamp for 14.1-60.58, which BLS's extraction contradicts (issue 11 §2)
        _ns("gw-disputed-stamp-14.1-60.58", "14.1-60.58", rdx="stamp", stamp=1773588193),
        _ns("gw-epa-before-14.1-73.33", "14.1-73.33"),
        _ns("gw-epa-floor-14.1-73.37", "14.1-73.37"),
        _ns("gw-customised-13.1-56.18", "13.1-56.18", customised="Contoso"),
        _ns("gw-regzip-proxy-14.1-38.53", "14.1-38.53", regzip=True),
        Profile(name="catchall-gateway", kind="catchall", build="13.1-51.15"),
        Profile(name="catchall-spa", kind="catchall", options={"netscaler": False}),
        Profile(name="plain-nginx", kind="plain"),
        Profile(name="phishing-clone", kind="phishing", build="13.1-49.13"),
    ]
    profiles += _indicators()[:3]
    profiles += [_fault(f"fault-{f.replace('_', '-')}", f) for f in FAULTS]
    return profiles


def _nitro() -> list[Profile]:
    """Appliances for the authenticated (NITRO) checks; scan with the lab account
    (nscheck.lab.nitro.LAB_NITRO_USER / LAB_NITRO_PASSWORD)."""
    return [
        _ns("nitro-gw-saml-idp-14.1-47.46", "14.1-47.46", nitro={"saml_idp": True}),
        _ns("nitro-aaa-saml-sp-13.1-59.22", "13.1-59.22", roles=("aaa",), nitro={"saml_sp": True}),
        # Zeroed stamp: remotely only a floor; NITRO gives the exact build and "no SAML".
        # no file dates: remotely only the zeroed file's floor, so NITRO's exact build is what decides
        _ns("nitro-gw-nosaml-14.1-66.59", "14.1-66.59", file_dates="none"),
        _ns("nitro-fips-13.1-37.241", "13.1-37.241", edition="fips", nitro={"saml_sp": True}),
        _ns("nitro-mitigated-14.1-73.37", "14.1-73.37", nitro={"saml_sp": True, "mitigation": ["CTX697174"]}),
        _ns("nitro-readonly-13.1-58.21", "13.1-58.21", nitro={"deny": ["systemfile"]}),
        _ns("nitro-wrong-creds-14.1-43.50", "14.1-43.50", nitro={"password": "not-the-lab-password"}),
        _ns("nitro-disabled-13.1-61.26", "13.1-61.26", nitro={"disabled": True}),
        _ns("nitro-compromised-14.1-47.48", "14.1-47.48", compromised=True),
        Profile(name="plain-nginx", kind="plain"),
    ]


PRESETS = {"demo": _demo, "full": _full, "indicators": _indicators, "nitro": _nitro}


def preset(name: str) -> list[Profile]:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown lab preset {name!r} (expected one of {', '.join(PRESETS)})") from None


# A spread of real builds for the many-hosts benchmark: old, vulnerable, fixed, FIPS, zeroed.
_BENCH_BUILDS: Sequence[tuple[str, str | None]] = (
    ("12.1-50.28", None), ("13.0-47.22", None), ("13.0-92.19", None), ("13.1-49.13", None),
    ("13.1-58.21", None), ("13.1-59.22", None), ("13.1-61.26", None), ("14.1-43.50", None),
    ("14.1-47.46", None), ("14.1-56.74", None), ("13.1-37.241", "fips"), ("14.1-66.59", None),
)


def many_hosts(n: int, *, refused_share: float = 0.1, silent_share: float = 0.05, seed: int = 0,
               spread: bool = False) -> list[Profile]:
    """``n`` hosts of mixed builds for benchmarks; a share refuse connections and a share accept
    and never answer. ``spread`` binds host i on 127.0.0.(2 + i % 250) instead of 127.0.0.1."""
    if n < 1:
        raise ValueError("many_hosts: n must be at least 1")
    rng = random.Random(seed)
    n_refused = round(n * refused_share)
    n_silent = round(n * silent_share)
    kinds = ["refused"] * n_refused + ["silent"] * n_silent + ["ok"] * max(0, n - n_refused - n_silent)
    rng.shuffle(kinds)
    out: list[Profile] = []
    for i, k in enumerate(kinds[:n]):
        opts: dict[str, Any] = {}
        if spread:
            opts["host"] = f"127.0.0.{2 + i % 250}"
        if k == "ok":
            build, edition = _BENCH_BUILDS[rng.randrange(len(_BENCH_BUILDS))]
            roles = ("aaa",) if rng.random() < 0.1 else ("gateway",)
            out.append(Profile(name=f"host-{i:05d}", build=build, edition=edition, roles=roles, options=opts))
        else:
            out.append(Profile(name=f"host-{i:05d}", kind="fault", fault=k, options=opts))
    return out
