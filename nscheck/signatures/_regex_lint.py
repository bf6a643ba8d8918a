"""A small, conservative check that a rule's regex runs in linear time on hostile input.

Python's ``re`` backtracks. Over a long line from an appliance or an archive, three shapes make a
search quadratic (or worse), and every one of them has been seen in nscheck's own rules:

1. **nested** unbounded quantifiers: ``(\\S+\\s+)*``, ``(a+)+`` (exponential at worst);
2. **adjacent** unbounded quantifiers that can trade characters: ``\\s*.*``, ``[^\\s]*/x/[^\\s]*``
   (the first gives back every position, the second rescans the rest of the line each time);
3. an **unguarded** unbounded quantifier with more pattern after it: ``<script[^>]+src=`` on
   ``<script<script<script…`` rescans to the end of the line from every start, because the run
   can swallow the next start. It is safe when the run excludes a character that the text
   before it must contain (``\\(file=[^()]*\\)``: a run stops at the next ``(``), or when nothing
   mandatory follows it.

``problems(pattern)`` walks the parse tree of ``re._parser`` and returns one sentence per shape
found (empty: accepted). It is conservative: it may reject a pattern that is in fact linear; the
author then bounds the repeat (``[^>]{0,512}``), excludes a guard character, or splits the rule.
Bounded repeats are fine, up to ``MAX_BOUND``. tests/test_regex_linear.py proves the accepted
rules linear by timing them on adversarial 100 KB and 1 MB lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

try:  # the regex parser: re._parser since 3.11
    import re._constants as _c
    import re._parser as _p
except ImportError:  # pragma: no cover
    import sre_constants as _c
    import sre_parse as _p

__all__ = ["MAX_BOUND", "problems"]

MAX_BOUND = 4096  # a bounded repeat {m,n} with n above this is as slow as an unbounded one
_OTHER = 256  # stands for every code point above Latin-1 (logs are decoded as Latin-1)
_FULL = frozenset(range(257))
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)}
_UNBOUNDED = _c.MAXREPEAT


def _category(cat: Any) -> frozenset[int]:
    name = str(cat)
    if "DIGIT" in name:
        base = frozenset(i for i in range(256) if chr(i).isdecimal())
    elif "SPACE" in name:
        base = frozenset(i for i in range(256) if chr(i).isspace())
    elif "WORD" in name:
        base = frozenset(i for i in range(256) if chr(i).isalnum() or i == 95) | {_OTHER}
    elif "LINEBREAK" in name:
        base = frozenset({10})
    else:  # pragma: no cover - every category is one of the above
        return _FULL
    return _FULL - base if "NOT" in name else base


def _fold(codes: Iterable[int], icase: bool) -> frozenset[int]:
    out = set(codes)
    if icase:
        for i in list(out):
            if i < 256:
                for ch in (chr(i).lower(), chr(i).upper()):
                    if len(ch) == 1 and ord(ch) < 256:
                        out.add(ord(ch))
    return frozenset(out)


def _single(op: Any, av: Any, flags: int) -> frozenset[int] | None:
    """The characters one single-character item can match (None: not a single-character item)."""
    icase = bool(flags & re.IGNORECASE)
    if op is _c.LITERAL:
        return _fold([av if av < 256 else _OTHER], icase)
    if op is _c.NOT_LITERAL:
        return _FULL - _fold([av if av < 256 else _OTHER], icase)
    if op is _c.ANY:
        return _FULL if flags & re.DOTALL else _FULL - {10}
    if op is _c.IN:
        neg = False
        acc: set[int] = set()
        for iop, iav in av:
            if iop is _c.NEGATE:
                neg = True
            elif iop is _c.LITERAL:
                acc |= _fold([iav if iav < 256 else _OTHER], icase)
            elif iop is _c.RANGE:
                lo, hi = iav
                acc |= _fold(range(lo, min(hi, 255) + 1), icase)
                if hi > 255:
                    acc.add(_OTHER)
            elif iop is _c.CATEGORY:
                acc |= _category(iav)
            else:  # NOT_LITERAL inside a class and the like: assume anything
                acc |= _FULL
        return _FULL - acc if neg else frozenset(acc)
    return None


def _min_len(seq: Sequence[Any]) -> int:
    total = 0
    for op, av in seq:
        if op in _REPEATS:
            total += av[0] * _min_len(av[2])
        elif op is _c.SUBPATTERN:
            total += _min_len(av[-1])
        elif op is _c.BRANCH:
            total += min((_min_len(alt) for alt in av[1]), default=0)
        elif op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT) or op is getattr(_c, "GROUPREF", None):
            continue
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            total += _min_len(av)
        elif op is getattr(_c, "GROUPREF_EXISTS", None):
            continue
        else:
            total += 1
    return total


def _chars(seq: Sequence[Any], flags: int) -> frozenset[int]:
    """Every character a match of ``seq`` could contain."""
    acc: set[int] = set()
    for op, av in seq:
        s = _single(op, av, flags)
        if s is not None:
            acc |= s
        elif op in _REPEATS:
            acc |= _chars(av[2], flags)
        elif op is _c.SUBPATTERN:
            acc |= _chars(av[-1], _sub_flags(av, flags))
        elif op is _c.BRANCH:
            for alt in av[1]:
                acc |= _chars(alt, flags)
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            acc |= _chars(av, flags)
        elif op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        else:  # back-references and conditionals: anything
            return _FULL
    return frozenset(acc)


def _sub_flags(av: Any, flags: int) -> int:
    # SUBPATTERN av = (group, add_flags, del_flags, body)
    return (flags | av[1]) & ~av[2]


def _is_unbounded(op: Any, av: Any) -> bool:
    return op in _REPEATS and av[1] == _UNBOUNDED


def _has_unbounded(seq: Sequence[Any]) -> bool:
    for op, av in seq:
        if _is_unbounded(op, av):
            return True
        if op in _REPEATS and _has_unbounded(av[2]):
            return True
        if op is _c.SUBPATTERN and _has_unbounded(av[-1]):
            return True
        if op is _c.BRANCH and any(_has_unbounded(alt) for alt in av[1]):
            return True
        if op in (_c.ASSERT, _c.ASSERT_NOT) and _has_unbounded(av[1]):
            return True
        if op is getattr(_c, "ATOMIC_GROUP", None) and _has_unbounded(av):
            return True
    return False


Guard = frozenset[int] | tuple[list[Any], ...]


def _guards(seq: Sequence[Any], flags: int) -> list[Guard]:
    """What every match must contain before a later item, for the guard check: character sets of
    mandatory single characters, and for an alternation one list of guards per alternative (the
    alternation guards a run when every alternative does). A start anchor limits where a match can
    begin: ``\\A`` (or ``^`` without MULTILINE) is one start, an empty guard that guards anything;
    ``^`` with MULTILINE follows a newline."""
    out: list[Guard] = []
    for op, av in seq:
        s = _single(op, av, flags)
        if s is not None:
            out.append(s)
        elif op is _c.AT:
            if av is _c.AT_BEGINNING_STRING or (av is _c.AT_BEGINNING and not flags & re.MULTILINE):
                out.append(frozenset())
            elif av is _c.AT_BEGINNING:
                out.append(frozenset({10}))
        elif op in _REPEATS and av[0] >= 1:
            out.extend(_guards(av[2], flags))
        elif op is _c.SUBPATTERN:
            out.extend(_guards(av[-1], _sub_flags(av, flags)))
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            out.extend(_guards(av, flags))
        elif op is _c.BRANCH:
            out.append(tuple(_guards(alt, flags) for alt in av[1]))
    return out


def _guarded(run: frozenset[int], guards: Sequence[Guard]) -> bool:
    for g in guards:
        if isinstance(g, frozenset):
            if g.isdisjoint(run):
                return True
        elif all(_guarded(run, alt) for alt in g):
            return True
    return False


def _describe(op: Any, av: Any) -> str:
    lo, hi = av[0], av[1]
    q = "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
    del hi
    return f"an unbounded '{q}' repeat"


class _Walker:
    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.found: list[str] = []

    def add(self, msg: str) -> None:
        if msg not in self.found:
            self.found.append(msg)

    def walk(self, seq: Sequence[Any], before: list[Guard], after_required: bool, flags: int) -> None:
        seq = list(seq)
        before = list(before)
        for i, (op, av) in enumerate(seq):
            rest = seq[i + 1:]
            rest_required = after_required or _min_len(rest) > 0
            if op in _REPEATS:
                _lo, hi, body = av
                if hi != _UNBOUNDED and hi > MAX_BOUND:
                    self.add(f"a repeat bounded at {hi} (more than {MAX_BOUND}) is as slow as an unbounded one")
                if hi != _UNBOUNDED and hi > 1 and _has_unbounded(body):
                    self.add("nested unbounded quantifier: an unbounded repeat inside a repeated group")
                if hi == _UNBOUNDED:
                    if _has_unbounded(body):
                        self.add("nested unbounded quantifiers: an unbounded repeat inside an unbounded repeat")
                    if any(o is _c.BRANCH for o, _a in body) and len(body) == 1:
                        self.add("an unbounded repeat of an alternation: write one character class or bound it")
                    run = _chars(body, flags)
                    if rest_required and not _guarded(run, before):
                        self.add(f"{_describe(op, av)} of characters that include everything before it, with more "
                                 "pattern after it, rescans the rest of the line from every start: bound it "
                                 "({0,N}) or exclude a character the text before it must contain")
                    self._adjacent(run, rest, flags, after_required)
                # inside a repeated group, the next iteration follows: something is required after
                self.walk(body, before, rest_required or hi > 1, flags)
            elif op is _c.SUBPATTERN:
                self.walk(av[-1], before, rest_required, _sub_flags(av, flags))
            elif op is _c.BRANCH:
                for alt in av[1]:
                    self.walk(alt, before, rest_required, flags)
            elif op in (_c.ASSERT, _c.ASSERT_NOT):
                direction, body = av
                if direction == 1:  # lookahead; lookbehinds are fixed-width
                    self.walk(body, before, False, flags)
            elif op is getattr(_c, "ATOMIC_GROUP", None):
                self.walk(av, before, rest_required, flags)
            before.extend(_guards([(op, av)], flags))

    def _adjacent(self, run: frozenset[int], rest: Sequence[Any], flags: int, after_required: bool) -> None:
        """The next unbounded repeat after this one (looking into groups and alternatives), when
        this run can swallow everything in between, shares characters with it, and something
        mandatory follows that one (a trailing run never has to give anything back)."""
        if self._next_unbounded(run, list(rest), set(), flags, after_required):
            self.add("adjacent unbounded quantifiers that can trade characters (like '.*x.*'): the first "
                     "gives back every position and the second rescans the line each time; bound one")

    def _next_unbounded(self, run: frozenset[int], items: list[Any], between: set[int], flags: int,
                        after_required: bool) -> bool:
        for j, (op, av) in enumerate(items):
            later = after_required or _min_len(items[j + 1:]) > 0
            if _is_unbounded(op, av):
                return later and between <= run and not run.isdisjoint(_chars(av[2], flags))
            if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
                continue
            if op is _c.SUBPATTERN or op is getattr(_c, "ATOMIC_GROUP", None) or op in _REPEATS:
                body = av[-1] if op is _c.SUBPATTERN else av[2] if op in _REPEATS else av
                if self._next_unbounded(run, list(body), set(between), flags, later):
                    return True
            elif op is _c.BRANCH and any(self._next_unbounded(run, list(alt), set(between), flags, later)
                                         for alt in av[1]):
                return True
            between |= _chars([(op, av)], flags)
            if not between <= run:
                return False
        return False


def problems(pattern: str, flags: int = re.IGNORECASE | re.MULTILINE) -> list[str]:
    """Reasons ``pattern`` may take more than linear time on a long line (empty: accepted)."""
    try:
        parsed = _p.parse(pattern, flags)
    except re.error as e:
        return [f"invalid regex: {e}"]
    eff = flags | parsed.state.flags
    w = _Walker(eff)
    w.walk(list(parsed), [], False, eff)
    return w.found
