"""Run the fingerprint ladder on one host and combine what the methods say.

Ladder: product pages (/, a random path, the Gateway/AAA login pages) -> product decision ->
(not NetScaler: stop) -> rdx_en.json.gz stamp -> ?v= hashes and Last-Modified (free, from the
pages already fetched) -> if the build is still not exact with high confidence: EPA plug-in
list, the legacy epa.html nsversion (old builds) and the nsepa.deb size. A title without
corroboration asks for the favicon.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from nscheck.build import Build, Train, edition_candidates
from nscheck.fingerprint.methods import (
    METHODS,
    METHODS_BY_NAME,
    PRODUCT_PAGES,
    BuildClaim,
    CompileDate,
    Method,
    Observations,
    Outcome,
    Req,
    Signal,
    compile_date,
)
from nscheck.model import BuildInfo, Confidence, Evidence, Precondition, ProductInfo, SkipKind, Skipped
from nscheck.probe.parallel import gather, slots
from nscheck.probe.types import Fetcher, HttpResponse
from nscheck.signatures.fingerprints import FingerprintTables

__all__ = ["Fingerprint", "combine_build", "decide_product", "fingerprint_host", "plan_ladder", "plan_requests"]

ROLE_FACTS = ("gateway", "aaa", "management")


# How far the candidate builds can be trusted (see CLOSED / FLOOR / DATED below).
Bound = Literal["", "floor", "dated"]


@dataclass(frozen=True)
class Fingerprint:
    product: ProductInfo
    build: BuildInfo | None
    facts: dict[str, Precondition]
    pages: tuple[HttpResponse, ...]  # every response seen, in order (root, random path, login pages, ...)
    skipped: tuple[Skipped, ...] = ()
    bound: Bound = ""  # "" closed candidate set | "floor" newer unlisted builds possible | "dated" guessed from a date
    builds: tuple[Build, ...] = ()  # what to hand to the assessment engine
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    # For a floor or dated bound (issue 11 §3): when the build was compiled, the trains it can be
    # on (None: any train of its time) and the floor per train.
    compiled: CompileDate | None = None
    trains: tuple[Train, ...] | None = None
    floors: dict[Train, Build] = field(default_factory=dict)


def plan_ladder(token: str = "{random}") -> list[tuple[Method, tuple[Req, ...]]]:
    """Every method of the ladder, in order, with the requests it adds (a page an earlier method
    already asked for is not asked again; some methods only read those answers): for --dry-run."""
    out: list[tuple[Method, tuple[Req, ...]]] = []
    seen: set[str] = set()
    for m in METHODS:
        new: list[Req] = []
        for r in m.requests:
            if r.key not in seen:
                seen.add(r.key)
                new.append(Req(r.key, r.path.replace("{random}", token), r.raw, r.byte_range, r.max_bytes, r.follow, r.method))
        out.append((m, tuple(new)))
    return out


def plan_requests(token: str = "{random}") -> list[Req]:
    """Every request the ladder may send, in order (for --dry-run)."""
    return [r for _m, reqs in plan_ladder(token) for r in reqs]


def random_path_token() -> str:
    return f"nscheck-{secrets.token_hex(6)}.html"


class _Ladder:
    def __init__(self, fetcher: Fetcher, tables: FingerprintTables, token: str):
        self.fetcher = fetcher
        self.tables = tables
        self.token = token
        self.obs = Observations()
        self.outcomes: list[Outcome] = []
        self.skipped: list[Skipped] = []

    async def fetch(self, reqs: Sequence[Req]) -> None:
        todo = [rq for rq in dict.fromkeys(reqs) if rq.key not in self.obs.responses]
        if slots(self.fetcher) > 1 and len(todo) > 1:
            await self._fetch_together(todo)
            return
        for rq in todo:
            if rq.key in self.obs.responses:
                continue
            path = rq.path.replace("{random}", self.token)
            reuse = self._reusable(rq, path)
            if reuse is not None:
                self.obs.responses[rq.key] = reuse
                continue
            self._got(rq, await self._send(rq, path))

    async def _fetch_together(self, todo: Sequence[Req]) -> None:
        """The same answers as one after another: every request that is not already answered is
        sent at once (up to the host's slots), then assigned in order, where a page that an earlier
        one redirected to is taken from that one, as the loop above does. Such a page was then
        asked for twice, but the fetcher sends a distinct request once (the redirect hop and the
        direct request share it), so the host sees the same requests either way."""
        send = [rq for rq in todo if self._reusable(rq, rq.path.replace("{random}", self.token)) is None]
        answers = await gather(self.fetcher, [functools.partial(self._send, rq, rq.path.replace("{random}", self.token))
                                              for rq in send])
        got = dict(zip([rq.key for rq in send], answers, strict=True))
        for rq in todo:
            reuse = self._reusable(rq, rq.path.replace("{random}", self.token))
            if reuse is not None:
                self.obs.responses[rq.key] = reuse
            else:
                self._got(rq, got[rq.key])

    async def _send(self, rq: Req, path: str) -> HttpResponse:
        if rq.method == "HEAD":
            return await self.fetcher.head(path)
        return await self.fetcher.get(path, raw=rq.raw, byte_range=rq.byte_range, follow_redirects=rq.follow,
                                      max_bytes=rq.max_bytes)

    def _got(self, rq: Req, r: HttpResponse) -> None:
        self.obs.responses[rq.key] = r
        cert = getattr(self.fetcher, "certificate", None)
        if cert is not None and self.obs.certificate is None:
            self.obs.certificate = cert

    def _reusable(self, rq: Req, path: str) -> HttpResponse | None:
        return self._already_at(path) if not rq.raw and rq.byte_range is None else None

    def _already_at(self, path: str) -> HttpResponse | None:
        # "/" usually redirects to a login page: do not ask for that page twice.
        for r in self.obs.responses.values():
            if r.redirects and r.status is not None and urlsplit(r.redirects[-1]).path == path:
                return r
        return None

    async def run(self, m: Method) -> Outcome:
        await self.fetch(m.requests)
        out = m.run(self.obs, self.tables)
        self.outcomes.append(out)
        self.skipped.extend(out.skipped)
        return out

    @property
    def signals(self) -> list[Signal]:
        return [s for o in self.outcomes for s in o.signals]

    @property
    def claims(self) -> list[BuildClaim]:
        return [c for o in self.outcomes for c in o.claims]

    def answered(self) -> bool:
        return any(r.status is not None for r in self.obs.responses.values())


def decide_product(signals: Sequence[Signal], answered: bool) -> ProductInfo:
    """A title or copied markup never makes a NetScaler on its own (phishing clones copy the
    page verbatim): it needs corroboration from outside the page (a cookie, a header, the
    certificate, the rdx file, the favicon). One strong marker (NSC_ cookie, Via NS-CACHE,
    the rdx gzip, the default certificate) is enough."""
    usable = [s for s in signals if not s.catch_all]
    strong = [s for s in usable if s.strength == "strong"]
    corr = [s for s in usable if s.strength == "corroborator"]
    titles = [s for s in usable if s.strength == "title"]
    off_page = [s for s in usable if not s.page_only and s.strength != "title"]
    ev = tuple(s.evidence for s in signals)
    corr_ids = {s.marker for s in corr}
    if strong:
        verdict, conf = True, Confidence.HIGH
    elif titles and off_page:
        verdict, conf = True, Confidence.HIGH if len(corr_ids) >= 2 else Confidence.MEDIUM
    elif len(corr_ids) >= 2 and off_page:
        verdict, conf = True, Confidence.MEDIUM
    elif titles or corr_ids:
        verdict, conf = None, Confidence.LOW
        reason = ("page markup only, with no appliance signal outside the page (phishing clones copy titles and markup)"
                  if titles or not off_page else "a single weak marker")
        ev = (*ev, Evidence("product", f"not enough to call it NetScaler: {reason}", None, Confidence.LOW))
    elif answered:
        why = ("markers only on a page the host serves for any path (catch-all): not evidence" if signals
               else "no NetScaler marker on any page")
        return ProductInfo(False, (), Confidence.MEDIUM, (*ev, Evidence("product", why, None, Confidence.MEDIUM)))
    else:
        return ProductInfo(None, (), Confidence.LOW, ev)
    roles: list[str] = []
    if verdict:
        for s in signals:
            if s.role and s.role not in roles:
                roles.append(s.role)
    return ProductInfo(verdict, tuple(r for r in ROLE_FACTS if r in roles), conf, ev)


def _plain(b: Build) -> Build:
    return Build(b.release, b.major, b.minor)


_RANK = {Confidence.HIGH: 3, Confidence.MEDIUM: 2, Confidence.LOW: 1}

# How far the candidate set can be trusted (what the assessment may conclude from it):
CLOSED: Bound = ""  # the build is one of the candidates
FLOOR: Bound = "floor"  # at least the floor: newer, unlisted builds are possible
DATED: Bound = "dated"  # guessed from a compile date: the true build may be on no list at all


def combine_build(claims: Sequence[BuildClaim], tables: FingerprintTables) -> tuple[BuildInfo | None, Bound]:
    """(BuildInfo, bound). The most confident exact claims win; exact claims of the same
    confidence that disagree, or floors/ceilings that contradict them, are a conflict."""
    if not claims:
        return None, CLOSED
    methods = tuple(c.evidence for c in claims)
    exact_all = [c for c in claims if c.relation == "exact"]
    floors = [c for c in claims if c.relation == "floor"]
    befores = [c for c in claims if c.relation == "before"]
    cand_claims = [c for c in claims if c.relation == "candidates"]

    def fits_claim(b: Build, c: BuildClaim) -> bool:
        same = [x for x in c.builds if x.release == b.release]
        if not same:
            return False
        if c.relation == "floor":
            return any(not b.older_than(x) for x in same)
        return all(b.older_than(x) for x in same)  # "before"

    def fits(b: Build) -> bool:
        return all(fits_claim(b, c) for c in (*floors, *befores))

    if exact_all:
        top = max(_RANK[c.confidence] for c in exact_all)
        exact = [c for c in exact_all if _RANK[c.confidence] == top]
        lower = [c for c in exact_all if _RANK[c.confidence] < top]
        distinct = list(dict.fromkeys(_plain(b) for c in exact for b in c.builds))
        if len(distinct) > 1:
            conflict: str | None = "methods disagree: " + "; ".join(f"{c.method} says {', '.join(map(str, c.builds))}" for c in exact)
            return _info(_one_release(distinct), None, False, distinct, methods, Confidence.LOW, conflict, None), CLOSED
        b = distinct[0]
        bad = [c for c in (*floors, *befores) if not fits_claim(b, c)]
        bad += [c for c in lower if any(_plain(x) != b for x in c.builds)]
        if any(c in floors or c in befores for c in bad):
            bad_txt = "; ".join(f"{c.method}: {c.detail}" for c in bad)
            conflict = f"{b} ({', '.join(sorted({c.method for c in exact}))}) disagrees with {bad_txt}"
            return _info(b.release, None, False, (b,), methods, Confidence.LOW, conflict, None), CLOSED
        if exact[0].confidence is Confidence.LOW and len({c.method for c in exact_all}) < 2:
            # One low-confidence source and nothing to corroborate it (issue 11 §2): a
            # candidate whose only trustworthy content is the date it came from.
            note: str | None = (f"{b} rests on one low-confidence source ({', '.join(sorted({c.method for c in exact}))}): "
                    "a candidate, not an exact build")
            return _info(b.release, None, False, (b,), methods, Confidence.LOW, None, None, note), DATED
        conflict = None
        if bad:  # a less confident method disagrees: keep the better one, say so
            conflict = "less confident method(s) disagree: " + "; ".join(f"{c.method} says {', '.join(map(str, c.builds))}" for c in bad)
        conf = exact[0].confidence
        return _info(b.release, b, True, (b,), methods, conf, conflict, None), CLOSED

    floor_txt: str | None = None
    cands = list(dict.fromkeys(_plain(b) for c in cand_claims for b in c.builds))
    if cands or (any(c.dated for c in cand_claims) and not (floors or befores)):
        kept = [b for b in cands if fits(b)]
        conflict = None
        if (floors or befores) and cands and not kept:
            conflict = "candidate builds from the stamp date contradict the floor/ceiling methods"
            kept = cands
        conf = min((c.confidence for c in cand_claims), key=lambda x: _RANK[x])
        bound = DATED if any(c.dated for c in cand_claims) else CLOSED
        return _info(_one_release(kept), None, False, kept, methods, conf, conflict, None), bound
    if floors or befores:
        # Only a floor and/or a ceiling: list the known builds that fit. With a floor and no
        # ceiling, newer builds than any listed are possible (FLOOR).
        known = [_plain(r.build) for r in tables.releases]
        pool = list(dict.fromkeys([*(_plain(b) for f in floors for b in f.builds), *known]))
        kept = sorted((b for b in pool if fits(b)), key=lambda b: (b.release, b.major, b.minor))
        rels = {b.release for b in kept}
        best: dict[str, Build] = {}
        for b in (x for f in floors for x in f.builds if x.release in rels):
            if b.release not in best or best[b.release].older_than(b):
                best[b.release] = b
        floor_txt = " or ".join(f"{b} or later" for b in best.values()) or None
        note = " / ".join(f"older than {b}" for c in befores for b in c.builds) or None
        return (_info(_one_release(kept), None, False, kept, methods, Confidence.LOW, None, floor_txt, note),
                CLOSED if befores else FLOOR)
    return _info(None, None, False, (), methods, Confidence.LOW, None, None), CLOSED


def _one_release(builds: Sequence[Build]) -> str | None:
    rels = {b.release for b in builds}
    return rels.pop() if len(rels) == 1 else None


def _info(release: str | None, build: Build | None, exact: bool, cands: Sequence[Build], methods: tuple[Evidence, ...],
          conf: Confidence, conflict: str | None, floor: str | None, note: str | None = None) -> BuildInfo:
    # What the build number implies (issue 11 §3): one edition, or several non-standard ones
    # joined by "|" (13.1-37.241 is "fips|ndcpp"). A number that may also be mainline (every
    # 14.1 build may be standard or FIPS) implies nothing: None.
    eds = list(dict.fromkeys(e.value for b in ((build,) if build is not None else cands) for e in edition_candidates(b)))
    edition = eds[0] if len(eds) == 1 else ("|".join(eds) if eds and "standard" not in eds else None)
    if note:
        methods = (*methods, Evidence("build", note, None, Confidence.LOW))
    return BuildInfo(
        release=release, build=build.number if build is not None else None, edition=edition, exact=exact,
        candidates=tuple(str(b) for b in cands), methods=methods, confidence=conf, conflict=conflict, floor=floor,
    )


async def fingerprint_host(
    fetcher: Fetcher, tables: FingerprintTables, *, build_stage: bool = True, token: str | None = None
) -> Fingerprint:
    lad = _Ladder(fetcher, tables, token or random_path_token())
    await lad.fetch([PRODUCT_PAGES[0]])
    root = lad.obs.responses["root"]
    if root.status is None:
        # No answer on / (refused, DNS, timeout, TLS failure): asking for more pages would
        # only spend the host's deadline.
        lad.skipped.append(Skipped("fingerprint", f"no answer on /: {root.error}"))
        return _finish(lad, ProductInfo(None), None, CLOSED)
    product_stage = [METHODS_BY_NAME[name] for name in ("catch_all", "markers", "default_certificate")]
    await lad.fetch([rq for m in product_stage for rq in m.requests])  # independent pages: together
    for m in product_stage:
        await lad.run(m)
    product = decide_product(lad.signals, lad.answered())
    if product.is_netscaler is False or not lad.answered():
        if lad.answered():
            lad.skipped.append(Skipped("build", "not NetScaler: build probes skipped"))
        return _finish(lad, product, None, CLOSED)

    if build_stage or product.is_netscaler is None:
        # The rdx file both proves the product and dates the build.
        await lad.run(METHODS_BY_NAME["rdx_stamp"])
        product = decide_product(lad.signals, True)
    if product.is_netscaler is None:
        await lad.run(METHODS_BY_NAME["favicon"])
        product = decide_product(lad.signals, True)
    if product.is_netscaler is None and any(s.role == "management" for s in lad.signals):
        # A management GUI login page: its stylesheet is served by the appliance at an absolute
        # path a saved copy of the page does not reproduce.
        await lad.run(METHODS_BY_NAME["mgmt_css"])
        product = decide_product(lad.signals, True)
    if product.is_netscaler is None:
        # Asked the appliance-only resources (rdx file, favicon, GUI css) and none answered like a
        # NetScaler: what is left is copied markup.
        product = ProductInfo(False, (), Confidence.LOW, (*product.evidence, Evidence(
            "product", "looks like a NetScaler login page but nothing outside the page confirms it "
            "(no appliance cookie, header, certificate, rdx file, favicon or GUI stylesheet): possible phishing clone, or a "
            "Citrix page that is not a NetScaler (StoreFront shares the RfWebUI markup)", None,
            Confidence.LOW)))
    if not build_stage:
        lad.skipped.append(Skipped("build", "build fingerprinting not requested (--indicators-only)", SkipKind.DISABLED))
        return _finish(lad, product, None, CLOSED)
    if product.is_netscaler is not True:
        lad.skipped.append(Skipped("build", "not confirmed as NetScaler: build not assessed"))
        return _finish(lad, product, None, CLOSED)
    await lad.run(METHODS_BY_NAME["vhash"])
    await lad.run(METHODS_BY_NAME["last_modified"])
    info, bound = combine_build(lad.claims, tables)
    if info is not None and info.exact and info.confidence is Confidence.HIGH:
        lad.skipped.append(Skipped("epa_nsversion, epa_pluginlist, epa_deb_size", "exact build already known (early exit)"))
    else:
        extra = [METHODS_BY_NAME["epa_nsversion"]] if info is None or not info.exact else []
        extra.append(METHODS_BY_NAME["epa_pluginlist"])
        sized = {row.build.release for row in tables.epa.values()}
        if info is None or info.release is None or info.release in sized:
            extra.append(METHODS_BY_NAME["epa_deb_size"])
        # What runs is decided before any of them answers: their reads go out together, and they
        # are judged in ladder order.
        await lad.fetch([rq for m in extra for rq in m.requests])
        for m in extra:
            await lad.run(m)
        if METHODS_BY_NAME["epa_deb_size"] not in extra and info is not None:
            lad.skipped.append(Skipped("epa_deb_size", f"no nsepa.deb sizes known for release {info.release}"))
        info, bound = combine_build(lad.claims, tables)
        product = decide_product(lad.signals, True)
    return _dated(_finish(lad, product, info, bound), lad, tables)


# Candidates around a compile time: released up to GA lead after it (fixes are compiled weeks
# before release, 49 days at most in the tables) or re-spun up to two weeks after release.
_NEAR = (dt.timedelta(days=-14), dt.timedelta(days=60))


def _near(builds: Sequence[Build], when: dt.datetime, tables: FingerprintTables) -> list[Build]:
    days: dict[tuple[str, int, int], list[dt.date]] = {}
    for r in tables.releases:
        days.setdefault((r.build.release, r.build.major, r.build.minor), []).append(r.date)
    for stamp, rows in tables.stamps.items():
        for x in rows:
            if x.build is not None and x.confidence is not Confidence.LOW:
                day = dt.datetime.fromtimestamp(stamp, dt.UTC).date()
                days.setdefault((x.build.release, x.build.major, x.build.minor), []).append(day)
    lo, hi = (when + _NEAR[0]).date(), (when + _NEAR[1]).date()
    return [b for b in builds if any(lo <= d <= hi for d in days.get((b.release, b.major, b.minor), ()))]


def _dated(fp: Fingerprint, lad: _Ladder, tables: FingerprintTables) -> Fingerprint:
    """Attach what bounds a floor/dated build: compile time, trains, floors; narrow the
    zeroed-stamp candidates to the builds released around that time."""
    if fp.build is None or not fp.bound:
        return fp
    cd, ev = compile_date(lad.obs)
    info = fp.build
    extra: list[Evidence] = [ev] if ev is not None else []
    trains: tuple[Train, ...] | None = None
    floors: dict[Train, Build] = {}
    if fp.bound == FLOOR:
        rels = {c.split("-", 1)[0] for c in info.candidates}
        for c in lad.claims:
            if c.relation != "floor":
                continue
            for b in c.builds:
                if b.release not in rels:
                    continue
                for e in edition_candidates(Build(b.release, b.major, b.minor)):
                    t = Train(b.release, e)
                    if t not in floors or floors[t].older_than(b.with_edition(e)):
                        floors[t] = b.with_edition(e)
        trains = tuple(floors)
    cands = fp.builds
    if cd is not None:
        extra.append(Evidence("compile_date", f"compiled {cd.when:%Y-%m-%d %H:%M} UTC ({cd.source})", cd.url, Confidence.MEDIUM))
        if fp.bound == FLOOR:
            near = _near(cands, cd.when, tables)
            if near and len(near) < len(cands):
                extra.append(Evidence("compile_date", f"{len(near)} of {len(cands)} builds above the floor were released "
                                      f"around the compile date: {', '.join(map(str, near[:8]))}", None, Confidence.LOW))
                cands = tuple(near)
    # A dated build may be on a train none of its candidates is on: its edition is not implied.
    edition = None if fp.bound == DATED else info.edition
    rels = {b.release for b in cands}
    release = rels.pop() if len(rels) == 1 and fp.bound != DATED else (info.release if fp.bound != DATED else None)
    info = replace(info, candidates=tuple(str(b) for b in cands), methods=(*info.methods, *extra), edition=edition,
                   release=release,
                   compiled=cd.when.isoformat(timespec="seconds").replace("+00:00", "Z") if cd else None)
    return replace(fp, build=info, builds=cands, compiled=cd, trains=trains, floors=floors)


def _finish(lad: _Ladder, product: ProductInfo, info: BuildInfo | None, bound: Bound) -> Fingerprint:
    extra = tuple(e for o in lad.outcomes for e in o.evidence)
    moved = getattr(lad.fetcher, "upgraded_to", None)
    if getattr(lad.fetcher, "plain_http", False):
        extra = (Evidence("probe", "the port answered TLS in plain HTTP: the host was read over http", lad.fetcher.base_url,
                          Confidence.HIGH), *extra)
    elif moved:
        extra = (Evidence("probe", f"the host redirected http to {moved}: later requests went there", moved,
                          Confidence.HIGH), *extra)
    if extra:
        product = ProductInfo(product.is_netscaler, product.roles, product.confidence, (*product.evidence, *extra))
    facts = {r: Precondition.MET for r in product.roles} if product.is_netscaler else {}
    builds: tuple[Build, ...] = ()
    if info is not None and product.is_netscaler:
        from nscheck.build import parse_build

        builds = tuple(parse_build(c) for c in info.candidates)
    pages = tuple(lad.obs.responses.values())  # random-path answer included: indicator checks use it too
    return Fingerprint(product, info, facts, pages, tuple(lad.skipped), bound, builds, extra)
