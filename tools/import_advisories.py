#!/usr/bin/env python3
"""Generate ``signatures/advisories/CTX*.yaml``, ``lifecycle.yaml`` and ``manifest.yaml`` from the
curated research file (``../shared/reference/advisories/advisories.json`` by default).

Reproducible: the same input gives byte-identical output. The generated YAML is committed and
reviewed; the hand-checked facts that the JSON does not carry in machine-readable form (roles
per CVE, MPX/SDX builds, the CVE-2026-19490 caveat, regressions, the 13.1-64.24 GA build, the
train lifecycle) live in the tables below, next to the reason for each.

    python tools/import_advisories.py [--input advisories.json] [--out signatures/] [--check]

``--check`` exits 1 when the committed files differ from what would be generated.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = ROOT.parent / "shared" / "reference" / "advisories" / "advisories.json"

# -- hand-checked tables ----------------------------------------------------------------------

ROLES: dict[str, str] = {
    "any": "every deployment, default configuration included",
    "gateway": "Gateway vserver: SSL VPN, ICA Proxy, CVPN or RDP Proxy (ns.conf: add vpn vserver)",
    "aaa": "AAA authentication vserver (ns.conf: add authentication vserver)",
    "saml_sp": "SAML service provider (ns.conf: add authentication samlAction)",
    "saml_idp": "SAML identity provider (ns.conf: add authentication samlIdPProfile)",
    "management": "management interface reachable by the attacker: NSIP, cluster IP, GSLB site IP or a SNIP with management access",
    "dtls": "DTLS on a VPN vserver (on unless -dtls OFF) or a DTLS-type vserver",
    "ipv6_lb": "LB vserver of type HTTP, SSL or HTTP_QUIC bound to IPv6 services/servicegroups (incl. DBS IPv6)",
    "rdp_proxy": "RDP feature enabled on a Gateway/AAA vserver, or an RDP Proxy server profile",
    "lsn_sip_alg": "SIP ALG enabled on an LSN group (ns.conf: add lsn group ... -sipalg ENABLED)",
    "pcoip": "PCoIP profile bound to a Gateway vserver (ns.conf: add vpn pcoipProfile)",
    "kcd": "KCDAccount (Kerberos constrained delegation SSO) configured",
    "oracle_lb": "LB vserver of type ORACLE",
    "dns_proxy": "DNS proxy / resolver configuration (LB vserver of type DNS)",
    "http2": "HTTP/2 enabled in an HTTP profile bound to LB/CS/VPN vservers or services",
    "cr_hdx": "Cache redirection vserver of type HDX",
    "http_vserver": "HTTP or SSL LB / CS vserver",
    "url_policy": "policies using HTTP.REQ.URL expressions",
    "non_http_l7": "non-HTTP L7 features: FTP LB/CS/services/monitors, LSN FTP/RTSP ALG, DNS64, NAT64",
    "tcp_isn_default": "TCP-based vservers without Enhanced ISN Generation (set ns tcpParam -enhancedISNGeneration)",
    "l2_adjacent": "attacker on the same Layer-2 segment",
    "hardware_mpx_sdx": "MPX or SDX hardware (not VPX)",
}

GW_AAA = [["gateway", "aaa"]]
MGMT = [["management"]]
UNKNOWN = "unknown"
# Roles per CVE, in conjunctive normal form. "unknown" where the research marks the
# precondition UNCONFIRMED: an unconfirmed precondition must never turn a verdict into
# "not vulnerable".
REQUIRES: dict[str, Any] = {
    "CVE-2019-12044": UNKNOWN,
    "CVE-2019-0140": [["hardware_mpx_sdx"]],
    "CVE-2019-19781": [["any"]],
    "CVE-2020-8193": MGMT, "CVE-2020-8194": MGMT, "CVE-2020-8195": UNKNOWN, "CVE-2020-8196": UNKNOWN,
    "CVE-2020-8191": UNKNOWN, "CVE-2020-8198": UNKNOWN, "CVE-2020-8197": UNKNOWN, "CVE-2019-18177": UNKNOWN,
    "CVE-2020-8187": UNKNOWN, "CVE-2020-8190": UNKNOWN, "CVE-2020-8199": UNKNOWN,
    "CVE-2020-8245": UNKNOWN, "CVE-2020-8246": UNKNOWN, "CVE-2020-8247": MGMT,
    "CVE-2020-8299": [["l2_adjacent"]], "CVE-2020-8300": UNKNOWN,
    "CVE-2021-22927": [["saml_sp"]], "CVE-2021-22919": UNKNOWN,
    "CVE-2021-22955": UNKNOWN, "CVE-2021-22956": UNKNOWN,
    "CVE-2022-27508": GW_AAA, "CVE-2022-27509": GW_AAA,
    "CVE-2022-27510": [["gateway"]], "CVE-2022-27513": UNKNOWN, "CVE-2022-27516": UNKNOWN,
    "CVE-2022-27518": [["saml_sp", "saml_idp"]],
    "CVE-2023-24487": MGMT, "CVE-2023-24488": GW_AAA,
    "CVE-2023-3519": GW_AAA, "CVE-2023-3466": MGMT, "CVE-2023-3467": MGMT,
    "CVE-2023-4966": GW_AAA, "CVE-2023-4967": GW_AAA,
    "CVE-2023-6548": MGMT, "CVE-2023-6549": GW_AAA,
    "CVE-2024-5491": UNKNOWN, "CVE-2024-5492": UNKNOWN,
    "CVE-2024-8534": [["gateway", "aaa"], ["rdp_proxy"]], "CVE-2024-8535": [["gateway", "aaa"], ["kcd"]],
    "CVE-2025-5777": GW_AAA, "CVE-2025-5349": MGMT,
    "CVE-2025-6543": GW_AAA,
    "CVE-2025-7775": [["gateway", "aaa", "ipv6_lb", "cr_hdx"]],
    "CVE-2025-7776": [["gateway"], ["pcoip"]],
    "CVE-2025-8424": MGMT,
    "CVE-2025-12101": GW_AAA,
    "CVE-2026-3055": [["saml_idp"]], "CVE-2026-4368": GW_AAA,
    "CVE-2026-8451": [["saml_idp"]], "CVE-2026-8452": GW_AAA, "CVE-2026-8655": [["oracle_lb", "dns_proxy"]],
    "CVE-2026-10816": UNKNOWN, "CVE-2026-10817": UNKNOWN, "CVE-2026-13474": [["http2"]],
    # 19490 needs a SAML action too on newer builds; Gateway/AAA alone is the safe reading.
    "CVE-2026-19490": GW_AAA, "CVE-2026-19489": [["lsn_sip_alg"]],
    "CVE-2026-88771": [["any"]], "CVE-2026-88772": [["dtls"]],
    "CVE-2026-88773": [["gateway", "aaa", "http_vserver"]], "CVE-2026-88774": [["url_policy"]],
    "CVE-2026-88775": GW_AAA, "CVE-2026-88776": [["oracle_lb"]], "CVE-2026-88777": [["non_http_l7"]],
    "CVE-2026-88778": [["tcp_isn_default"]],
    "CVE-2026-88779": [["gateway", "aaa"], ["saml_sp", "saml_idp"]],
}

# Builds that affect only exactly these builds (regressions / single-build bugs).
AFFECTED_ONLY: dict[str, list[str]] = {
    "CVE-2026-4368": ["14.1-66.54"],  # regression in 66.54, fixed in 66.59 (NOTES §1.3)
    "CVE-2022-27508": ["12.1-64.16"],  # only 12.1-64.16 (NOTES §1.3, Tenable 161773)
}

# Common names responders search for (display only; NOTES §3 and the press use them).
NAMES: dict[str, str] = {
    "CVE-2019-19781": "Shitrix",
    "CVE-2023-4966": "CitrixBleed",
    "CVE-2025-5777": "CitrixBleed 2",
}

# Per-CVE train rows overriding the bulletin rows.
_19490 = ("Bulletin says fixed in {low}; the CNA record (updated 2026-10-07) says '{rel} through {lowb}' is "
          "affected and a 2026-09-27 roundup says boxes patched for CVE-2026-19490 are still exposed; "
          "builds from {low} below {safe} are unknown, {safe} (CTX697096) is the safe floor")
CVE_TRAINS: dict[str, list[dict[str, Any]]] = {
    "CVE-2026-19490": [
        {"release": "14.1", "fixed_low": "14.1-73.32", "fixed": "14.1-73.37", "confirmed": False,
         "note": _19490.format(low="14.1-73.32", rel="14.1", lowb="73.32", safe="14.1-73.37")},
        {"release": "14.1", "edition": "fips", "fixed_low": "14.1-73.32", "fixed": "14.1-73.37", "confirmed": False,
         "note": _19490.format(low="14.1-73.32 FIPS", rel="14.1", lowb="73.32", safe="14.1-73.37 FIPS")},
        {"release": "13.1", "fixed_low": "13.1-63.21", "fixed": "13.1-64.23", "recommended": "13.1-64.24",
         "confirmed": False,
         "note": _19490.format(low="13.1-63.21", rel="13.1", lowb="63.21", safe="13.1-64.23")},
    ],
}

# Bulletin rows replaced or added by hand (ctx -> (release, edition) -> row, or None to drop).
ROW_OVERRIDES: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
    "CTX263807": {  # Intel NIC firmware: MPX and SDX got different fixed builds
        ("11.1", "standard"): {"fixed_low": "11.1-64.11", "fixed": "11.1-65.10",
                               "note": "MPX fixed in 11.1-64.11, SDX in 11.1-65.10; the platform is not known "
                                       "from the build, so builds in between are unknown"},
        ("12.1", "standard"): {"fixed_low": "12.1-56.22", "fixed": "12.1-57.18",
                               "note": "MPX fixed in 12.1-56.22, SDX in 12.1-57.18; the platform is not known "
                                       "from the build, so builds in between are unknown"},
        ("13.0", "standard"): {"fixed": "13.0-58.30", "note": "MPX and SDX"},
    },
    "CTX697096": {
        ("13.1", "standard"): {"fixed": "13.1-64.23", "recommended": "13.1-64.24",
                               "note": "bulletin build 13.1-64.23; use the GA build 13.1-64.24: 64.23 can "
                                       "cyclic-reboot when 'add ns variable' entries exist"},
    },
}
# Rows the JSON does not list but the research states (scope of a single-build bulletin).
EXTRA_ROWS: dict[str, list[dict[str, Any]]] = {
    "CTX457048": [
        {"release": r, "edition": e, "status": "not_affected",
         "note": "the bulletin affects only 12.1-64.16 (Tenable 161773)"}
        for r, e in (("11.1", "standard"), ("13.0", "standard"), ("13.1", "standard"),
                     ("12.1", "fips"), ("12.1", "ndcpp"))
    ],
}

# KEV dates that are not from a CISA catalogue file (the newest one seen is v2026.08.21).
KEV_UNCONFIRMED: dict[str, str] = {
    "CVE-2026-8452": "KEV date from two third-party KEV digests (due 2026-08-29); not in the catalogue of 2026-08-21",
    "CVE-2026-88771": "2026-09-27 or 2026-09-28 per a KEV daily review (due 2026-09-30); exact dateAdded unconfirmed",
    "CVE-2026-88772": "2026-09-27 or 2026-09-28 per a KEV daily review (due 2026-09-30); exact dateAdded unconfirmed",
    "CVE-2026-88779": "third-party KEV digest (due 2026-10-07); not confirmed against a catalogue file",
}
KEV_NOTES: dict[str, str] = {
    "CVE-2026-19490": "from the CISA-ADP block of the CVE record (newer than the 2026-08-21 catalogue file)",
}

LIFECYCLE: list[dict[str, Any]] = [
    {"release": "10.5", "status": "eol", "eol_as_of": "2020-09-17", "last_fix": "10.5-70.18",
     "last_fix_bulletin": "CTX276688",
     "notes": ["EOL: absent from CTX281474 (2020-09-17) on; exact EOL date unconfirmed",
               "released before every bulletin in the set"]},
    {"release": "11.1", "status": "eol", "eol_as_of": "2022-07-26", "last_fix": "11.1-65.23",
     "last_fix_bulletin": "CTX330728",
     "notes": ["EOL: absent from CTX457836 (2022-07-26) on; exact EOL date unconfirmed",
               "released before every bulletin in the set"]},
    {"release": "12.0", "status": "eol", "eol_as_of": "2020-09-17", "last_fix": "12.0-63.21",
     "last_fix_bulletin": "CTX276688",
     "notes": ["EOL: absent from CTX281474 (2020-09-17) on; exact EOL date unconfirmed",
               "released before every bulletin in the set"]},
    {"release": "12.1", "status": "eol", "eol_as_of": "2023-07-18", "eol_confirmed": True,
     "last_fix": "12.1-65.35", "last_fix_bulletin": "CTX477714",
     "notes": ["listed as 'EOL and vulnerable' from CTX561482 (2023-07-18) on",
               "mainline 12.1-55.13, 55.18 and 55.24 share build-major 55 with the FIPS/NDcPP trains"]},
    {"release": "13.0", "status": "eol", "eol_as_of": "2024-11-12", "eol_confirmed": True,
     "first_release": "2019-05-13", "last_fix": "13.0-92.31", "last_fix_bulletin": "CTX677944",
     "notes": ["listed as EOL/vulnerable from CTX691608 (2024-11-12) on",
               "first build seen: 13.0-36.27, 2019-05-13 (Fox-IT build timestamps)"]},
    {"release": "13.1", "status": "supported", "first_release": "2021-09-10", "last_fix": "13.1-64.39",
     "last_fix_bulletin": "NSB-2026-11-12",
     "notes": ["first build seen: 13.1-4.43, 2021-09-10 (Fox-IT build timestamps); absent from CTX319135 "
               "(2021-07-21), first listed in CTX330728 (2021-11-09)",
               "mainline 13.1-37.38 (Nov 2022) shares build-major 37 with the FIPS/NDcPP train",
               "13.1-64.23 is the CTX697096 bulletin build; the GA build is 13.1-64.24"]},
    {"release": "14.1", "status": "supported", "first_release": "2023-07-28", "last_fix": "14.1-73.57",
     "last_fix_bulletin": "NSB-2026-11-12",
     "notes": ["first build seen: 14.1-4.42, 2023-07-28 (Fox-IT build timestamps); first listed in CTX579459",
               "14.1-66.54 is a regression build (CVE-2026-4368 affects only it)"]},
    {"release": "12.1", "edition": "fips", "build_majors": [55], "status": "unconfirmed", "last_fix": "12.1-55.333",
     "last_fix_bulletin": "CTX695486",
     "notes": ["12.1-55.x numbering; not listed in 2026 bulletins (status unconfirmed)",
               "FIPS rows before 2021 are unconfirmed in the research"]},
    {"release": "12.1", "edition": "ndcpp", "build_majors": [55], "status": "unconfirmed", "last_fix": "12.1-55.333",
     "last_fix_bulletin": "CTX695486",
     "notes": ["shares 12.1-FIPS numbering and thresholds", "not listed in 2026 bulletins (status unconfirmed)"]},
    {"release": "13.1", "edition": "fips", "build_majors": [37], "status": "supported", "first_release": "2023-04-24",
     "last_fix": "13.1-37.293", "last_fix_bulletin": "NSB-2026-11-12",
     "notes": ["13.1-37.x numbering; first FIPS build seen: 13.1-37.150, 2023-04-24 (Fox-IT build timestamps)",
               "first row in CTX477714 (2023-05-09)"]},
    {"release": "13.1", "edition": "ndcpp", "build_majors": [37], "status": "supported", "first_release": "2023-04-24",
     "last_fix": "13.1-37.293", "last_fix_bulletin": "NSB-2026-11-12",
     "notes": ["shares 13.1-FIPS numbering and thresholds ('13.1-FIPS/NDcPP' rows)"]},
    {"release": "14.1", "edition": "fips", "status": "supported", "first_release": "2026-05-06",
     "shares_numbering_with": "14.1", "last_fix": "14.1-73.58", "last_fix_bulletin": "NSB-2026-11-12",
     "notes": ["14.1-FIPS shares 14.1 mainline numbering (e.g. 14.1-72.61 FIPS)",
               "the 2026-11-12 fix is one build later on 14.1-FIPS (14.1-73.58 FIPS) than on mainline (14.1-73.57)",
               "first FIPS build seen: 14.1-66.68, 2026-05-06; first row in CTX696604 (2026-06-30)",
               "for older bulletins the 14.1 mainline threshold applies"]},
]

MANIFEST = {
    "name": "nscheck NetScaler ADC/Gateway bulletins",
    "version": "2026.11.13",
    "date": "2026-11-13",
    "newest_bulletin": "NSB-2026-11-12",
    "description": "NetScaler ADC / Gateway security bulletins 2019 - Nov 2026 (firmware only; "
                   "Console/ADM/SDX-SVM, SD-WAN, Session Recording and Workspace app left out)",
    "sources_as_of": {
        "newest_bulletin": "2026-11-13 (CNA records of the 2026-11-12 bulletin; CTX697191 and NSB-2026-11-12 are "
                           "hand-written, the research file ends at CTX697174)",
        "kev_catalogue": "v2026.08.21 (later KEV dates from CVE-record ADP blocks or third-party digests)",
        "cna_records": "2026-11-13 (CVE-2026-107408, -107412, -111334)",
    },
}

# -- conversion -------------------------------------------------------------------------------

_EDITIONS = {
    "FIPS/NDcPP": ("fips", "ndcpp"),
    "FIPS": ("fips",),
    "NDcPP": ("ndcpp",),
}


def _branch_editions(branch: str) -> tuple[str, tuple[str, ...]]:
    if "-" not in branch:
        return branch, ("standard",)
    rel, ed = branch.split("-", 1)
    if ed not in _EDITIONS:
        raise SystemExit(f"unknown branch label {branch!r}")
    return rel, _EDITIONS[ed]


def _row(br: dict[str, Any], rel: str, edition: str) -> dict[str, Any]:
    row: dict[str, Any] = {"release": rel}
    if edition != "standard":
        row["edition"] = edition
    fixed = br.get("fixed_build")
    note = br.get("note") or ""
    if br.get("affected") is False:
        row["status"] = "not_affected"
    elif br.get("eol") and not fixed:
        row["status"] = "no_fix"
    elif fixed in (None, "unconfirmed"):
        row["status"] = "unknown"
        note = note or "fixed build not found in the consulted sources"
    else:
        row["fixed"] = fixed.split()[0]
    if br.get("confirmed") is False:
        row["confirmed"] = False
    if note:
        row["note"] = note
    row["source_branch"] = br["branch"]
    return row


def _rows(ctx: str, branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for br in branches:
        rel, eds = _branch_editions(br["branch"])
        for ed in eds:
            rows[(rel, ed)] = _row(br, rel, ed)
    # A FIPS row without an NDcPP row: FIPS and NDcPP share thresholds in every bulletin seen
    # (NOTES §1.3), so derive one and mark it unconfirmed.
    for (rel, ed), row in list(rows.items()):
        if ed == "fips" and rel in ("12.1", "13.1") and (rel, "ndcpp") not in rows:
            d = dict(row, edition="ndcpp", confirmed=False)
            d["note"] = ((row.get("note", "") + "; ") if row.get("note") else "") + (
                f"derived from the {rel}-FIPS row: the source lists FIPS only, and FIPS and NDcPP share "
                "thresholds in every bulletin seen")
            rows[(rel, "ndcpp")] = d
    for key, override in ROW_OVERRIDES.get(ctx, {}).items():
        base = rows.get(key, {"release": key[0]})
        new = {k: v for k, v in base.items() if k not in ("fixed", "fixed_low", "recommended", "status", "note")}
        if key[1] != "standard":
            new["edition"] = key[1]
        new.update(override)
        rows[key] = new
    for extra in EXTRA_ROWS.get(ctx, []):
        key = (extra["release"], extra.get("edition", "standard"))
        if key not in rows:
            e = dict(extra)
            if e.get("edition") == "standard":
                del e["edition"]
            rows[key] = e
    order = {"standard": 0, "fips": 1, "ndcpp": 2}
    return [_ordered(rows[k]) for k in sorted(rows, key=lambda k: (-float(k[0]), order[k[1]]))]


_ROW_ORDER = ["release", "edition", "status", "fixed_low", "fixed", "recommended", "confirmed", "note", "source_branch"]


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _ROW_ORDER if k in row}


def _cve(c: dict[str, Any], kev_added: dict[str, str]) -> dict[str, Any]:
    cid = c["id"]
    out: dict[str, Any] = {"id": cid}
    if cid in NAMES:
        out["name"] = NAMES[cid]
    out["type"] = c["type"]
    cvss = c.get("cvss")
    out["cvss"] = cvss if isinstance(cvss, int | float) else None
    for k in ("cvss_version", "cvss_source"):
        if c.get(k):
            out[k] = c[k]
    out["cvss_confirmed"] = bool(c.get("cvss_confirmed", True)) and out["cvss"] is not None
    if c.get("cwe"):
        out["cwe"] = c["cwe"]
    out["precondition"] = c.get("precondition") or "not stated in the consulted sources"
    if cid not in REQUIRES:
        raise SystemExit(f"{cid}: no roles in REQUIRES; add them by hand")
    out["requires"] = REQUIRES[cid]
    if cid in kev_added:
        raw = kev_added[cid]
        out["kev_added"] = raw[:10]
        if cid in KEV_UNCONFIRMED:
            out["kev_confirmed"] = False
            out["kev_note"] = KEV_UNCONFIRMED[cid]
        elif cid in KEV_NOTES:
            out["kev_note"] = KEV_NOTES[cid]
    if cid in AFFECTED_ONLY:
        out["affected_only"] = AFFECTED_ONLY[cid]
    if cid in CVE_TRAINS:
        out["trains"] = [_ordered(r) for r in CVE_TRAINS[cid]]
    return out


def convert(a: dict[str, Any]) -> dict[str, Any]:
    ctx = a["ctx"]
    kev = a.get("kev") or {}
    doc: dict[str, Any] = {
        "id": ctx,
        "title": a["title"],
        "published": a["date"],
        "preconditions": a.get("preconditions") or "",
        "exploited": bool(a.get("exploited")),
    }
    if kev.get("ransomware"):
        doc["ransomware"] = kev["ransomware"]
    if kev.get("note"):
        doc["kev_note"] = kev["note"]
    doc["cves"] = [_cve(c, kev.get("added") or {}) for c in a["cves"]]
    doc["trains"] = _rows(ctx, a["branches"])
    doc["actions"] = list(a.get("actions") or [])
    notes = [a[k] for k in ("fix_release_dates", "actions_source") if a.get(k)]
    if notes:
        doc["notes"] = notes
    doc["sources"] = list(a.get("sources") or [])
    unconfirmed = list(a.get("unconfirmed") or [])
    for c in doc["cves"]:
        if not c["cvss_confirmed"]:
            unconfirmed.append(f"{c['id']} CVSS" + (f" ({c.get('cvss_source')})" if c.get("cvss_source") else ""))
        if c.get("kev_confirmed") is False:
            unconfirmed.append(f"{c['id']} KEV date")
    for r in doc["trains"]:
        if r.get("confirmed") is False:
            label = r["release"] + ("-" + r["edition"] if r.get("edition") else "")
            unconfirmed.append(f"{label} row ({r.get('status', 'fixed')}{': ' + r['fixed'] if r.get('fixed') else ''})")
    for c in doc["cves"]:
        for r in c.get("trains", []):
            label = r["release"] + ("-" + r["edition"] if r.get("edition") else "")
            unconfirmed.append(f"{c['id']} fix on {label} (disputed; safe floor {r['fixed']})")
    doc["unconfirmed"] = list(dict.fromkeys(unconfirmed))
    return doc


class _Dumper(yaml.SafeDumper):
    pass


def _str_rep(d: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    return d.represent_scalar("tag:yaml.org,2002:str", s)


def _list_rep(d: yaml.SafeDumper, v: list[Any]) -> yaml.SequenceNode:
    # Role groups ([[gateway, aaa]]) read best inline.
    flow = bool(v) and all(isinstance(x, str) and x in ROLES for x in v)
    return d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=flow)


_Dumper.add_representer(str, _str_rep)
_Dumper.add_representer(list, _list_rep)


def dump(doc: Any, header: str) -> str:
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)
    return header + body


HEADER = "# Generated by tools/import_advisories.py from advisories.json, then hand-checked.\n" \
         "# Format: signatures/README.md. Edit the importer's tables, not this file.\n"


def generate(data: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in data:
        out[f"advisories/{a['ctx']}.yaml"] = dump(convert(a), HEADER)
    lc = []
    for t in LIFECYCLE:
        row = dict(t)
        row.setdefault("edition", "standard")
        lc.append({k: row[k] for k in ("release", "edition", "status", "first_release", "eol_as_of",
                                        "eol_confirmed", "last_fix", "last_fix_bulletin",
                                        "shares_numbering_with", "build_majors", "notes") if k in row})
    out["lifecycle.yaml"] = dump({"trains": lc}, HEADER.replace("advisories.json", "advisories.meta.json + research notes"))
    out["manifest.yaml"] = dump(dict(MANIFEST, roles=ROLES), HEADER)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    ap.add_argument("--out", type=Path, default=ROOT / "signatures")
    ap.add_argument("--check", action="store_true", help="exit 1 when committed files are out of date")
    args = ap.parse_args(argv)
    data = json.loads(args.input.read_text(encoding="utf-8"))
    files = generate(data)
    stale = []
    for rel, text in files.items():
        p = args.out / rel
        if args.check:
            if not p.is_file() or p.read_text(encoding="utf-8") != text:
                stale.append(rel)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    if args.check:
        for rel in stale:
            print(f"out of date: {rel}", file=sys.stderr)
        return 1 if stale else 0
    print(f"wrote {len(files)} files under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
