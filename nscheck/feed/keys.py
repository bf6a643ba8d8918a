"""The Ed25519 public keys a bundle may be signed with.

Keys ship inside the package (``nscheck/feed/keys/*.pem``, SubjectPublicKeyInfo PEM). Several
may be trusted at once, so a key is rotated by shipping the new one a release before the old
one is dropped. An operator can trust more keys explicitly (``--trusted-key FILE``,
``trusted-keys`` in the config, ``$NSCHECK_TRUSTED_KEYS`` as a path list): for a CERT that
re-signs the feed for its constituents, an air-gapped mirror, or tests. Explicit keys are named
as such in ``nscheck signatures status``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from nscheck.feed.bundle import key_id

SHIPPED_DIR = Path(__file__).resolve().parent / "keys"
ENV_TRUSTED_KEYS = "NSCHECK_TRUSTED_KEYS"


class KeyError_(Exception):
    """A key file that cannot be used: said in one line with its path."""


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    key: Ed25519PublicKey
    source: str  # "shipped: <file name>" or "explicit: <path>"


def load_key(path: Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as e:
        raise KeyError_(f"{path}: cannot read: {e.strerror or e}") from None
    except ValueError:
        raise KeyError_(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyError_(f"{path}: not an Ed25519 key")
    return key


def trusted_keys(extra: Iterable[str | os.PathLike[str]] = ()) -> dict[str, TrustedKey]:
    """Key id -> key: the shipped keys, then explicit ones (argument and environment)."""
    out: dict[str, TrustedKey] = {}
    for p in sorted(SHIPPED_DIR.glob("*.pem")):
        k = load_key(p)
        out[key_id(k)] = TrustedKey(key_id(k), k, f"shipped: {p.name}")
    env = [e for e in os.environ.get(ENV_TRUSTED_KEYS, "").split(os.pathsep) if e]
    for raw in [*extra, *env]:
        p = Path(raw).expanduser()
        k = load_key(p)
        kid = key_id(k)
        out.setdefault(kid, TrustedKey(kid, k, f"explicit: {p}"))
    return out
