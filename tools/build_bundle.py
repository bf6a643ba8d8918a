#!/usr/bin/env python3
"""Maintainer tool: make a signing key, and build + sign a signature bundle from signatures/.

    python tools/build_bundle.py keygen --out ~/.nscheck-release/release-2027.pem
    python tools/build_bundle.py build --key ~/.nscheck-release/release-2026.pem -o dist/

``keygen`` writes the private key (mode 0600, never commit it) and ``<name>.pub.pem`` beside it;
ship the public one as ``nscheck/feed/keys/<name>.pem``. ``build`` lints the set first (a bundle
that nscheck would refuse is never built), then writes ``nscheck-signatures-<version>.tar.gz``
and prints its SHA-256. Release steps: signatures/README.md, "Publishing a signature update".
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from nscheck import __version__  # noqa: E402
from nscheck.feed.bundle import build_bundle, key_id  # noqa: E402
from nscheck.signatures import lint  # noqa: E402


def keygen(out: Path) -> int:
    key = Ed25519PrivateKey.generate()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    pub = out.with_name(out.stem + ".pub.pem")
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    print(f"private key: {out} (keep it offline)\npublic key:  {pub} (key id {key_id(key.public_key())})")
    return 0


def build(key_path: Path, signatures: Path, out_dir: Path, min_nscheck: str) -> int:
    report = lint(signatures)
    if report.errors:
        for e in report.errors:
            print(e, file=sys.stderr)
        print(f"{len(report.errors)} lint error(s): no bundle built", file=sys.stderr)
        return 1
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        print(f"{key_path}: not an Ed25519 private key", file=sys.stderr)
        return 1
    data = build_bundle(signatures, key, min_nscheck=min_nscheck)
    import yaml

    version = yaml.safe_load((signatures / "manifest.yaml").read_text(encoding="utf-8"))["version"]
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"nscheck-signatures-{version}.tar.gz"
    out.write_bytes(data)
    print(f"{out}\nsha256 {hashlib.sha256(data).hexdigest()}\nsigned by key {key_id(key.public_key())}")
    print(f"install: nscheck signatures update --from {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen", help="make an Ed25519 signing key pair")
    k.add_argument("--out", type=Path, required=True, help="private key file to create")
    b = sub.add_parser("build", help="build and sign a bundle")
    b.add_argument("--key", type=Path, required=True, help="Ed25519 private key (PEM)")
    b.add_argument("--signatures", type=Path, default=ROOT / "signatures")
    b.add_argument("-o", "--out-dir", type=Path, default=ROOT / "dist")
    b.add_argument("--min-nscheck", default=__version__, help="oldest nscheck that may load this set")
    a = ap.parse_args(argv)
    if a.cmd == "keygen":
        return keygen(a.out)
    return build(a.key, a.signatures, a.out_dir, a.min_nscheck)


if __name__ == "__main__":
    sys.exit(main())
