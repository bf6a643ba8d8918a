"""``signatures/nitro.yaml``: the NITRO resources and fields that decide roles, build, edition,
platform, mitigations and the file listing. Validated with pydantic on load; every problem is a
``SignatureError`` at ``file:line``. Evaluation is three-valued (True / False / None = could not
be read) so a resource the account may not read never turns into "role absent"."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nscheck.signatures import SignatureError
from nscheck.signatures._yaml import LinedDict, load_yaml

__all__ = ["Check", "Mitigation", "NitroMap", "RoleRule", "load_nitro_map", "match_items"]

_RESOURCE = re.compile(r"^[a-z][a-z0-9_]{1,80}$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]{0,80}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cond(_Strict):
    eq: str | None = None
    in_: tuple[str, ...] | None = Field(default=None, alias="in")
    not_in: tuple[str, ...] | None = None
    regex: str | None = None
    nonempty: bool | None = None
    default: str | None = None  # what an absent field means (NITRO omits default values)

    @model_validator(mode="after")
    def _one_op(self) -> Cond:
        ops = [x for x in (self.eq, self.in_, self.not_in, self.regex, self.nonempty) if x is not None]
        if len(ops) != 1:
            raise ValueError("a condition needs exactly one of eq, in, not_in, regex, nonempty")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"bad regex {self.regex!r}: {e}") from None
        return self

    def test(self, item: Mapping[str, Any], name: str) -> bool:
        raw = item.get(name)
        if raw is None or raw == "":
            raw = self.default
        if isinstance(raw, list):
            raw = " ".join(str(x) for x in raw)
        val = None if raw is None else str(raw)
        if self.nonempty is not None:
            return bool(val and val.strip()) is self.nonempty
        if val is None:
            return False
        v = val.strip().lower()
        if self.eq is not None:
            return v == self.eq.lower()
        if self.in_ is not None:
            return v in {x.lower() for x in self.in_}
        if self.not_in is not None:
            return v not in {x.lower() for x in self.not_in}
        assert self.regex is not None
        return re.search(self.regex, val) is not None


class BoundIn(_Strict):
    resource: str
    field: str


class Check(_Strict):
    resource: str
    where: dict[str, Cond] = Field(default_factory=dict)
    bound_in: BoundIn | None = None  # the matching objects' names must appear in this binding list

    @field_validator("resource")
    @classmethod
    def _res(cls, v: str) -> str:
        if not _RESOURCE.match(v):
            raise ValueError(f"not a NITRO resource name: {v!r} (lower case, letters/digits/_)")
        return v

    @field_validator("where")
    @classmethod
    def _fields(cls, v: dict[str, Cond]) -> dict[str, Cond]:
        for k in v:
            if not _FIELD.match(k):
                raise ValueError(f"not a NITRO field name: {k!r}")
        return v

    def resources(self) -> tuple[str, ...]:
        return (self.resource,) + ((self.bound_in.resource,) if self.bound_in else ())


class RoleRule(_Strict):
    any_of: tuple[tuple[Check, ...], ...] = ()
    always: Literal["met"] | None = None
    not_decidable: str | None = None
    absent_means: Literal["not_met", "unknown"] = "not_met"

    @model_validator(mode="after")
    def _shape(self) -> RoleRule:
        kinds = sum(bool(x) for x in (self.any_of, self.always, self.not_decidable))
        if kinds != 1:
            raise ValueError("a role needs exactly one of any_of, always, not_decidable (with a reason)")
        if self.not_decidable is not None and len(self.not_decidable.strip()) < 10:
            raise ValueError("not_decidable needs a reason")
        if any(not alt for alt in self.any_of):
            raise ValueError("an any_of alternative needs at least one check")
        return self

    def resources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for alt in self.any_of for c in alt for r in c.resources()))


class FieldRef(_Strict):
    resource: str
    field: str


class EditionRule(_Strict):
    edition: Literal["fips", "ndcpp", "standard"]
    resource: str
    field: str
    regex: str

    @field_validator("regex")
    @classmethod
    def _rx(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"bad regex {v!r}: {e}") from None
        return v


class Mitigation(_Strict):
    id: str
    advisory: str = Field(pattern=r"^CTX\d{5,7}$")
    title: str
    check: Check


class Files(_Strict):
    sources: tuple[str, ...]
    url_to_dir: dict[str, str]
    max_directories: int = Field(default=24, ge=1, le=200)

    @field_validator("url_to_dir")
    @classmethod
    def _dirs(cls, v: dict[str, str]) -> dict[str, str]:
        for k, d in v.items():
            if not (k.startswith("/") and k.endswith("/") and d.startswith("/") and d.endswith("/")):
                raise ValueError(f"{k!r}: {d!r}: URL prefix and directory both start and end with '/'")
        return v


class NitroMap(_Strict):
    format: Literal[1]
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    version: FieldRef
    hardware: FieldRef
    editions: tuple[EditionRule, ...] = ()
    roles: dict[str, RoleRule]
    mitigations: tuple[Mitigation, ...] = ()
    files: Files | None = None

    def resources(self) -> tuple[str, ...]:
        """Every resource a full NITRO read may GET (for --dry-run and the lab)."""
        out: list[str] = [self.version.resource, self.hardware.resource]
        out += [e.resource for e in self.editions]
        for r in self.roles.values():
            out += r.resources()
        for m in self.mitigations:
            out += m.check.resources()
        return tuple(dict.fromkeys(out))

    def decidable(self) -> dict[str, str | None]:
        """role -> None when NITRO decides it, else the reason it cannot."""
        return {k: v.not_decidable for k, v in self.roles.items()}


def _line_for(raw: Any, loc: Sequence[Any]) -> int | None:
    """The deepest line the error location reaches in the loaded YAML."""
    line = getattr(raw, "start_line", None)
    node = raw
    for part in loc:
        if isinstance(node, LinedDict):
            key = str(part)
            if key not in node and key == "in_":
                key = "in"
            if key in node:
                line = node.lines.get(key, line)
                node = node[key]
                continue
            break
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = getattr(node, "start_line", line)
            continue
        break
    return line


def _parse(path: Path) -> NitroMap:
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise SignatureError(path, "expected a mapping at the top level")
    try:
        return NitroMap.model_validate(raw)
    except ValidationError as e:
        errs = []
        for err in e.errors():
            loc = [p for p in err["loc"]]
            field = ".".join(str(p) for p in loc) or None
            errs.append(SignatureError(path, err["msg"], field=field, line=_line_for(raw, loc)))
        if len(errs) == 1:
            raise errs[0] from None
        raise ExceptionGroup(f"{path}: {len(errs)} problems", errs) from None


def load_nitro_map(signatures_dir: Path) -> NitroMap:
    """Load and validate ``<signatures>/nitro.yaml`` (cached per path and mtime)."""
    p = Path(signatures_dir) / "nitro.yaml"
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as e:
        raise SignatureError(p, f"cannot read: {e.strerror or e}") from None
    return _cached(str(p), mtime)


@lru_cache(maxsize=8)
def _cached(path: str, mtime: int) -> NitroMap:
    return _parse(Path(path))


def match_items(items: Sequence[Mapping[str, Any]], where: Mapping[str, Cond]) -> list[Mapping[str, Any]]:
    return [it for it in items if all(c.test(it, k) for k, c in where.items())]
