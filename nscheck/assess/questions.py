"""The one thing that would decide an ``unknown`` bulletin (issue 11 §3).

Read from the per-CVE details the assessment already records, so the question follows the
engine's reasoning instead of repeating it: candidates that disagree ask for the exact build
(or only the edition, when the candidates are one number on several trains); a known-affected
build whose precondition is open asks for that configuration; a single build the data cannot
place asks for the missing vendor fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from nscheck.build import Build
from nscheck.model import AdvisoryResult, OpenQuestion, QuestionKind, Verdict

__all__ = ["ask", "with_question"]

# Short names for the roles a question names (manifest.yaml describes each in full).
_ROLE_WORDS = {
    "gateway": "a Gateway vserver", "aaa": "an AAA vserver", "saml_sp": "a SAML SP (samlAction)",
    "saml_idp": "a SAML IdP (samlIdPProfile)", "management": "management access from the attacker's network",
    "dtls": "DTLS on a VPN vserver", "ipv6_lb": "an IPv6-bound HTTP/SSL LB vserver", "rdp_proxy": "the RDP proxy",
    "lsn_sip_alg": "the LSN SIP ALG", "pcoip": "a PCoIP profile", "kcd": "a KCDAccount",
}


def _roles_text(requires: Sequence[Sequence[str]]) -> str:
    groups = [" or ".join(_ROLE_WORDS.get(r, r) for r in g) for g in requires]
    return " and ".join(groups)


def ask(a: AdvisoryResult, cands: Sequence[Build]) -> OpenQuestion | None:
    if a.verdict is not Verdict.UNKNOWN:
        return None
    open_ = [d for d in a.cve_details if d.verdict is Verdict.UNKNOWN]
    if not open_:
        return OpenQuestion(QuestionKind.BUILD, "exact build?") if not cands else None
    d = open_[0]
    if d.build_affected is True and d.requires:
        roles = tuple(dict.fromkeys(r for g in d.requires for r in g if r != "any"))
        return OpenQuestion(QuestionKind.CONFIG, f"{_roles_text(d.requires)} configured?", roles)
    if not cands:
        return OpenQuestion(QuestionKind.BUILD, "exact build?")
    if len(cands) > 1 and (d.reason or "").startswith("candidates disagree"):
        numbers = {(b.release, b.major, b.minor) for b in cands}
        if len(numbers) == 1:
            eds = " or ".join(dict.fromkeys((b.edition.label or "standard") for b in cands if b.edition is not None))
            return OpenQuestion(QuestionKind.EDITION, f"edition: {eds}?")
        return OpenQuestion(QuestionKind.BUILD, "exact build?")
    trains = ", ".join(dict.fromkeys(str(b.train()) for b in cands))
    return OpenQuestion(QuestionKind.DATA, f"{a.id}: the fixed build for {trains}, which the bulletin data lacks?")


def with_question(a: AdvisoryResult, cands: Sequence[Build]) -> AdvisoryResult:
    q = ask(a, cands)
    return a if q == a.open_question else replace(a, open_question=q)
