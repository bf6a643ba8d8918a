"""The bundle format: build one from a signatures directory, and read one back, verified.

A bundle is ``nscheck-signatures-<version>.tar.gz`` holding exactly:

- ``manifest.json``: format, set version and date, creation time, the minimum nscheck version
  that understands the set, and the SHA-256 and size of every file under ``signatures/``;
- ``manifest.sig``: ``{"alg": "ed25519", "key_id": ..., "sig": base64}``, a detached Ed25519
  signature over the exact bytes of ``manifest.json``;
- ``signatures/...``: the files the manifest lists, and nothing else.

Reading never uses ``tarfile``: bundles come from the network, and ``tarfile`` follows links,
knows device files and (before CVE-2024-6232 was fixed) parsed pax headers in quadratic time.
The reader below accepts plain USTAR regular files and directories only, decompresses with a
hard cap, and touches the manifest's content only after its signature has verified.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import re
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nscheck import __version__

FORMAT: Final = 1
MAX_BUNDLE_BYTES = 32 * 1024 * 1024  # compressed; today's set is ~0.3 MB
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_MEMBERS = 5000
MANIFEST, SIGNATURE, PREFIX = "manifest.json", "manifest.sig", "signatures/"

__all__ = [
    "MAX_BUNDLE_BYTES", "BundleError", "FileEntry", "Manifest", "Refusal", "VerifiedBundle",
    "build_bundle", "key_id", "read_bundle",
]


class Refusal(StrEnum):
    """Why a bundle was refused; the CLI prints it and status/tests match on it."""

    OVERSIZED = "oversized"
    TRUNCATED = "truncated"
    NOT_A_BUNDLE = "not_a_bundle"
    UNSAFE_MEMBER = "unsafe_member"
    NO_SIGNATURE = "no_signature"
    BAD_SIGNATURE = "bad_signature"
    UNTRUSTED_KEY = "untrusted_key"
    MANIFEST_MISMATCH = "manifest_mismatch"
    NEEDS_NEWER_NSCHECK = "needs_newer_nscheck"
    LINT = "lint"
    DOWNGRADE = "downgrade"


class BundleError(Exception):
    """A refused bundle: ``reason`` is machine-readable, the message says it in words."""

    def __init__(self, reason: Refusal, message: str):
        self.reason = reason
        super().__init__(f"{reason.value}: {message}")


_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def safe_relpath(name: str) -> str | None:
    """``name`` if it is a plain relative POSIX path of ordinary segments, else None. No ``..``,
    no absolute paths, no backslashes, no hidden or empty segments, no control characters."""
    if not name or len(name) > 255 or name.startswith("/"):
        return None
    parts = name.split("/")
    if any(not _SAFE_SEGMENT.fullmatch(p) for p in parts):
        return None
    return name


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Manifest(BaseModel):
    """What the signature covers. Unknown fields are refused: a newer format is a newer nscheck's."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal[1]
    set_version: str
    set_date: dt.date
    created: dt.datetime
    min_nscheck: str
    files: dict[str, FileEntry]

    @field_validator("set_version", "min_nscheck")
    @classmethod
    def _version(cls, v: str) -> str:
        try:
            Version(v)
        except InvalidVersion:
            raise ValueError(f"not a version: {v!r}") from None
        return v

    @field_validator("files")
    @classmethod
    def _paths(cls, v: dict[str, FileEntry]) -> dict[str, FileEntry]:
        bad = [k for k in v if safe_relpath(k) is None]
        if bad:
            raise ValueError(f"unsafe file path(s): {', '.join(repr(b) for b in bad[:3])}")
        if "manifest.yaml" not in v:
            raise ValueError("the set has no manifest.yaml")
        return v

    @property
    def version(self) -> Version:
        return Version(self.set_version)


class _Sig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    alg: Literal["ed25519"]
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    sig: str


@dataclass(frozen=True)
class VerifiedBundle:
    manifest: Manifest
    files: Mapping[str, bytes]  # path relative to signatures/ -> content, hashes checked
    key_id: str
    digest: str  # SHA-256 of the bundle as received


def key_id(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _set_meta(src: Path) -> tuple[str, dt.date]:
    import yaml

    data = yaml.safe_load((src / "manifest.yaml").read_text(encoding="utf-8")) or {}
    version, date = data.get("version"), data.get("date")
    if not version or not date:
        raise ValueError(f"{src / 'manifest.yaml'}: needs version and date")
    return str(version), date if isinstance(date, dt.date) else dt.date.fromisoformat(str(date)[:10])


def build_bundle(src: Path, private_key: Ed25519PrivateKey, *, min_nscheck: str = __version__,
                 created: dt.datetime | None = None) -> bytes:
    """A signed bundle of every regular file under ``src`` (a signatures directory). Files whose
    names the reader would refuse (hidden files, editor backups with odd characters) are left out."""
    version, date = _set_meta(src)
    files: dict[str, bytes] = {}
    for p in sorted(src.rglob("*")):
        if not p.is_file() or p.is_symlink() or "__pycache__" in p.parts:
            continue
        rel = p.relative_to(src).as_posix()
        if safe_relpath(rel) is not None:
            files[rel] = p.read_bytes()
    created = (created or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    manifest = Manifest(format=FORMAT, set_version=version, set_date=date, created=created,
                        min_nscheck=min_nscheck,
                        files={k: FileEntry(sha256=hashlib.sha256(v).hexdigest(), size=len(v))
                               for k, v in files.items()})
    manifest_bytes = (manifest.model_dump_json(indent=1) + "\n").encode()
    sig = {"alg": "ed25519", "key_id": key_id(private_key.public_key()),
           "sig": base64.b64encode(private_key.sign(manifest_bytes)).decode()}
    out = io.BytesIO()
    # USTAR, fixed owner and times: the same set gives the same bytes apart from `created`.
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in [(MANIFEST, manifest_bytes), (SIGNATURE, (json.dumps(sig) + "\n").encode()),
                           *((PREFIX + k, v) for k, v in files.items())]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(created.timestamp())
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _gunzip(data: bytes) -> bytes:
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(Refusal.OVERSIZED, f"{len(data)} bytes (limit {MAX_BUNDLE_BYTES})")
    if data[:2] != b"\x1f\x8b":
        raise BundleError(Refusal.NOT_A_BUNDLE, "not gzip data")
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(data, MAX_UNPACKED_BYTES + 1)
    except zlib.error as e:
        raise BundleError(Refusal.TRUNCATED if "incomplete" in str(e) else Refusal.NOT_A_BUNDLE,
                          f"gzip: {e}") from None
    if len(out) > MAX_UNPACKED_BYTES:
        raise BundleError(Refusal.OVERSIZED, f"unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    if not d.eof:
        raise BundleError(Refusal.TRUNCATED, "the gzip stream ends early (interrupted download?)")
    return out


def _octal(field: bytes) -> int:
    txt = field.rstrip(b"\0 ").lstrip(b" ")
    if not txt or not re.fullmatch(rb"[0-7]{1,12}", txt):
        raise BundleError(Refusal.NOT_A_BUNDLE, "bad number in a tar header")
    return int(txt, 8)


def _untar(raw: bytes) -> dict[str, bytes]:
    """Regular files of a USTAR archive; anything else (links, devices, pax/GNU extensions,
    unsafe names, duplicates) refuses the bundle."""
    members: dict[str, bytes] = {}
    pos = 0
    while True:
        header = raw[pos:pos + 512]
        if len(header) < 512:
            raise BundleError(Refusal.TRUNCATED, "the tar archive ends inside a header")
        if header == b"\0" * 512:
            return members
        if _octal(header[148:156]) != sum(header[:148]) + 32 * 8 + sum(header[156:]):
            raise BundleError(Refusal.NOT_A_BUNDLE, "tar header checksum mismatch")
        if header[257:262] != b"ustar":
            raise BundleError(Refusal.NOT_A_BUNDLE, "not a USTAR archive")
        name = header[0:100].split(b"\0", 1)[0]
        prefix = header[345:500].split(b"\0", 1)[0]
        full = (prefix + b"/" + name if prefix else name).decode("utf-8", "replace")
        kind, size = header[156:157], _octal(header[124:136])
        pos += 512
        body = raw[pos:pos + size]
        if len(body) < size:
            raise BundleError(Refusal.TRUNCATED, f"member {full!r} is cut short")
        pos += (size + 511) // 512 * 512
        if kind == b"5":
            continue  # directories carry nothing we use
        if kind not in (b"0", b"\0"):
            raise BundleError(Refusal.UNSAFE_MEMBER, f"member {full!r} is not a regular file (type {kind!r})")
        if full not in (MANIFEST, SIGNATURE) and not (
                full.startswith(PREFIX) and safe_relpath(full[len(PREFIX):]) is not None):
            raise BundleError(Refusal.UNSAFE_MEMBER, f"member path {full!r} is outside the bundle layout")
        if full in members:
            raise BundleError(Refusal.UNSAFE_MEMBER, f"member {full!r} appears twice")
        if len(members) >= MAX_MEMBERS:
            raise BundleError(Refusal.OVERSIZED, f"more than {MAX_MEMBERS} members")
        members[full] = body


def read_bundle(data: bytes, trusted: Mapping[str, Ed25519PublicKey]) -> VerifiedBundle:
    """Verify ``data`` against the ``trusted`` keys (key id -> key); raise BundleError."""
    digest = hashlib.sha256(data).hexdigest()
    members = _untar(_gunzip(data))
    sig_bytes, manifest_bytes = members.pop(SIGNATURE, None), members.pop(MANIFEST, None)
    if sig_bytes is None or manifest_bytes is None:
        raise BundleError(Refusal.NO_SIGNATURE, f"the bundle has no {SIGNATURE if sig_bytes is None else MANIFEST}")
    try:
        sig = _Sig.model_validate_json(sig_bytes)
        raw_sig = base64.b64decode(sig.sig, validate=True)
    except (ValidationError, ValueError):
        raise BundleError(Refusal.BAD_SIGNATURE, f"{SIGNATURE} is malformed") from None
    key = trusted.get(sig.key_id)
    if key is None:
        raise BundleError(Refusal.UNTRUSTED_KEY, f"signed by key {sig.key_id}, which this nscheck does not trust")
    try:
        key.verify(raw_sig, manifest_bytes)
    except InvalidSignature:
        raise BundleError(Refusal.BAD_SIGNATURE, f"the signature by key {sig.key_id} does not verify") from None
    try:
        manifest = Manifest.model_validate_json(manifest_bytes)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise BundleError(Refusal.MANIFEST_MISMATCH, f"{MANIFEST}: {where}: {first['msg']}") from None
    files = {k[len(PREFIX):]: v for k, v in members.items()}
    missing = sorted(set(manifest.files) - set(files))
    extra = sorted(set(files) - set(manifest.files))
    if missing or extra:
        raise BundleError(Refusal.MANIFEST_MISMATCH,
                          f"files {'missing: ' + ', '.join(missing[:3]) if missing else ''}"
                          f"{'; ' if missing and extra else ''}{'not in the manifest: ' + ', '.join(extra[:3]) if extra else ''}")
    for name, entry in manifest.files.items():
        body = files[name]
        if len(body) != entry.size or hashlib.sha256(body).hexdigest() != entry.sha256:
            raise BundleError(Refusal.MANIFEST_MISMATCH, f"{name}: content does not match its SHA-256 in the manifest")
    if Version(manifest.min_nscheck) > Version(__version__):
        raise BundleError(Refusal.NEEDS_NEWER_NSCHECK,
                          f"set {manifest.set_version} needs nscheck >= {manifest.min_nscheck} (this is {__version__})")
    return VerifiedBundle(manifest, files, sig.key_id, digest)


def write_files(bundle: VerifiedBundle, dest: Path) -> None:
    """Write the verified files under ``dest`` (a fresh directory)."""
    for rel, body in bundle.files.items():
        target = dest.joinpath(*PurePosixPath(rel).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
