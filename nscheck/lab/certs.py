"""Self-signed certificates for the lab, shaped like what appliances present.

An unconfigured NetScaler answers TLS with its factory certificate
``CN=default XXXXXX, OU=NS Internal, O=Citrix ANG, L=San Jose, ST=California, C=US``
(subject == issuer; fingerprint NOTES §2, recog x509). Non-NetScaler lab hosts get an
ordinary self-signed site certificate, so a scanner cannot tell the two apart by "self-signed".

Keys are generated once per process and reused: RSA generation is the slowest part of starting
a lab, and the lab only needs the certificates to *look* right.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import ssl
import string
import tempfile
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["CertPair", "appliance_default_cert", "server_context", "site_cert"]


@dataclass(frozen=True)
class CertPair:
    cert_pem: bytes
    key_pem: bytes
    subject: str  # RFC 4514 text, for display and tests


_lock = threading.Lock()
_cache: dict[str, CertPair] = {}


def _make(name: x509.Name, *, days: int, sans: list[x509.GeneralName] | None = None) -> CertPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Appliance default certs are long-lived and were minted when the box first booted.
    not_before = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=400)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return CertPair(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ),
        subject=name.rfc4514_string(),
    )


def appliance_default_cert() -> CertPair:
    """The factory certificate pattern of a NetScaler (CN ``default`` + six capital letters)."""
    with _lock:
        if "appliance" not in _cache:
            suffix = "".join(random.choice(string.ascii_uppercase) for _ in range(6))
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                    x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
                    x509.NameAttribute(NameOID.LOCALITY_NAME, "San Jose"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Citrix ANG"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "NS Internal"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"default {suffix}"),
                ]
            )
            _cache["appliance"] = _make(name, days=365 * 25)
        return _cache["appliance"]


def site_cert() -> CertPair:
    """An ordinary self-signed web-site certificate (plain servers, phishing clones)."""
    with _lock:
        if "site" not in _cache:
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "remote.example.com"),
                ]
            )
            _cache["site"] = _make(name, days=398, sans=[x509.DNSName("remote.example.com")])
        return _cache["site"]


def server_context(pair: CertPair) -> ssl.SSLContext:
    """A server-side SSLContext for ``pair``. ``load_cert_chain`` only reads files, so the PEMs
    go through a private temporary file that is removed at once."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    fd, path = tempfile.mkstemp(prefix="nscheck-lab-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pair.key_pem + pair.cert_pem)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)
    return ctx
