"""Signature feed: signed bundles, verification, atomic activation, rollback, refusals.

Every refusal leaves the active set as it was. The signing key here is a test key made in the
test; nscheck trusts it only through $NSCHECK_TRUSTED_KEYS, as an operator would opt in.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tls_fixtures import loopback_cert

from nscheck.cli import main
from nscheck.feed import bundle as B
from nscheck.feed import store
from nscheck.feed.bundle import BundleError, Refusal, build_bundle, read_bundle
from nscheck.feed.keys import trusted_keys
from nscheck.feed.update import pinned
from nscheck.paths import shipped_signatures_dir, signatures_dir
from nscheck.report.exitcodes import check_signature_age

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = shipped_signatures_dir()
_SHIPPED_VERSION = __import__("yaml").safe_load((SHIPPED / "manifest.yaml").read_text(encoding="utf-8"))["version"]


def ver(n: int) -> str:
    """A set version newer than the shipped one (the format allows a fourth, serial part)."""
    return f"{_SHIPPED_VERSION}.{n}"


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ed25519PrivateKey:
    k = Ed25519PrivateKey.generate()
    pub = tmp_path / "test-feed.pub.pem"
    pub.write_bytes(k.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))
    monkeypatch.setenv("NSCHECK_TRUSTED_KEYS", str(pub))
    monkeypatch.setenv("NSCHECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NSCHECK_SIGNATURES", raising=False)
    pinned.cache_clear()
    yield k
    pinned.cache_clear()


def make_set(tmp_path: Path, version: str, date: str | None = None, *, break_it: bool = False) -> Path:
    """A copy of the shipped set renamed to ``version`` (and ``date``; None keeps the shipped date)."""
    d = tmp_path / f"set-{version}{'-broken' if break_it else ''}"
    shutil.copytree(SHIPPED, d, ignore=shutil.ignore_patterns("__pycache__"))
    m = (d / "manifest.yaml").read_text(encoding="utf-8")
    lines = [(f"version: {version}" if ln.startswith("version:") else f"date: '{date}'" if date and ln.startswith("date:") else ln)
             for ln in m.splitlines()]
    (d / "manifest.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if break_it:
        first = sorted((d / "advisories").glob("*.yaml"))[0]
        first.write_text(first.read_text(encoding="utf-8") + "\nthis_is_not_a_field: [\n", encoding="utf-8")
    return d


def write_bundle(tmp_path: Path, data: bytes, name: str = "b.tar.gz") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


def status(capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, _ = cli(["signatures", "status", "-f", "json"], capsys)
    assert code == 0
    return json.loads(out)


def retar(data: bytes, edit) -> bytes:
    """Unpack a bundle's members, let ``edit`` change the list, pack again (signature kept)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        members = [(m, t.extractfile(m).read() if m.isfile() else b"") for m in t.getmembers()]
    members = edit(members)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.USTAR_FORMAT) as t:
        for m, body in members:
            m.size = len(body) if m.isfile() else 0
            t.addfile(m, io.BytesIO(body) if m.isfile() else None)
    return out.getvalue()


def file_member(name: str, body: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    return info, body


# -- good path -----------------------------------------------------------------------------------

def test_good_bundle_activates_and_status_shows_it(tmp_path, key, capsys):
    before = status(capsys)
    assert before["active"]["source"].startswith("shipped with nscheck")
    p = write_bundle(tmp_path, build_bundle(make_set(tmp_path, ver(20)), key))
    code, out, err = cli(["signatures", "update", "--from", str(p)], capsys)
    assert code == 0, err
    assert f"activated signature set {ver(20)}" in out
    st = status(capsys)
    assert st["active"]["version"] == ver(20) and st["active"]["date"] == str(__import__("yaml").safe_load(
        (SHIPPED / "manifest.yaml").read_text(encoding="utf-8"))["date"])
    assert st["active"]["digest"] == __import__("hashlib").sha256(p.read_bytes()).hexdigest()
    assert st["active"]["key_id"] == B.key_id(key.public_key())
    assert st["active"]["key_source"].startswith("explicit:")
    assert st["active"]["source"] == str(p)
    assert isinstance(st["active"]["age_days"], int)
    # scans now resolve to the verified set; the text status names digest, key and previous
    pinned.cache_clear()
    assert signatures_dir(None) == Path(st["active"]["path"])
    code, out, _ = cli(["signatures", "status"], capsys)
    assert ver(20) in out and "sha256:" in out and "signed by" in out and "previous:" in out
    # the same bundle again is a no-op
    code, out, _ = cli(["signatures", "update", "--from", str(p)], capsys)
    assert code == 0 and "already active" in out


def test_version_prints_active_set(tmp_path, key, capsys):
    p = write_bundle(tmp_path, build_bundle(make_set(tmp_path, ver(21)), key))
    assert cli(["signatures", "update", "--from", str(p)], capsys)[0] == 0
    pinned.cache_clear()
    code, out, _ = cli(["--version"], capsys)
    assert code == 0
    assert "nscheck " in out and f"signatures {ver(21)} (dated" in out


def test_rollback_returns_to_previous_then_shipped(tmp_path, key, capsys):
    for v in (ver(20), ver(25)):
        p = write_bundle(tmp_path, build_bundle(make_set(tmp_path, v), key), f"{v}.tar.gz")
        assert cli(["signatures", "update", "--from", str(p)], capsys)[0] == 0
    assert status(capsys)["active"]["version"] == ver(25)
    assert status(capsys)["previous"]["version"] == ver(20)
    code, _out, _ = cli(["signatures", "rollback"], capsys)
    assert code == 0
    assert status(capsys)["active"]["version"] == ver(20)
    # rolling back is itself reversible
    assert cli(["signatures", "rollback"], capsys)[0] == 0
    assert status(capsys)["active"]["version"] == ver(25)


def test_rollback_with_nothing_installed_is_a_usage_error(key, capsys):
    code, _, err = cli(["signatures", "rollback"], capsys)
    assert code == 64 and "no previous" in err


def test_wheel_shipped_fallback(tmp_path, key, capsys):
    # empty store: the shipped set
    assert signatures_dir(None) == SHIPPED
    # a store whose active set vanished: the shipped set, not an error
    p = write_bundle(tmp_path, build_bundle(make_set(tmp_path, ver(20)), key))
    assert cli(["signatures", "update", "--from", str(p)], capsys)[0] == 0
    shutil.rmtree(Path(status(capsys)["active"]["path"]))
    pinned.cache_clear()
    assert signatures_dir(None) == SHIPPED
    assert status(capsys)["active"]["source"].startswith("shipped")


def test_shipped_set_newer_than_download_wins(tmp_path, key, capsys):
    # An older download (allowed explicitly) must not shadow newer data from `pip install -U`.
    p = write_bundle(tmp_path, build_bundle(make_set(tmp_path, "2000.01.01", None), key))
    code, _, err = cli(["signatures", "update", "--from", str(p), "--allow-downgrade"], capsys)
    assert code == 0, err
    pinned.cache_clear()
    assert signatures_dir(None) == SHIPPED
    code, out, _ = cli(["signatures", "status"], capsys)
    assert "shipped set is newer" in out


def test_build_tool_makes_an_installable_bundle(tmp_path, key, capsys):
    priv = tmp_path / "k.pem"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_bundle.py"), "build", "--key", str(priv),
                        "--signatures", str(make_set(tmp_path, ver(41))), "-o", str(tmp_path / "dist")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "dist" / f"nscheck-signatures-{ver(41)}.tar.gz"
    assert out.is_file()
    code, _, err = cli(["signatures", "update", "--from", str(out)], capsys)
    assert code == 0, err
    assert status(capsys)["active"]["version"] == ver(41)
    # and the tool refuses to build a set that would not lint
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_bundle.py"), "build", "--key", str(priv),
                        "--signatures", str(make_set(tmp_path, ver(42), break_it=True)), "-o", str(tmp_path / "d2")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "no bundle built" in r.stderr


def test_keygen_writes_private_key_0600(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_bundle.py"), "keygen", "--out", str(tmp_path / "k.pem")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    assert (tmp_path / "k.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_shipped_keys_load():
    keys = trusted_keys()
    assert keys and all(t.source.startswith("shipped:") for t in keys.values())


# -- refusals: the active set stays ---------------------------------------------------------------

@pytest.fixture
def installed(tmp_path, key, capsys) -> dict:
    p = write_bundle(tmp_path, build_bundle(make_set(tmp_path, ver(20)), key), "good.tar.gz")
    assert cli(["signatures", "update", "--from", str(p)], capsys)[0] == 0
    return status(capsys)["active"]


def refused(tmp_path, capsys, data: bytes, reason: str, installed: dict, *extra: str, code: int = 65) -> None:
    p = write_bundle(tmp_path, data, "bad.tar.gz")
    got, _, err = cli(["signatures", "update", "--from", str(p), *extra], capsys)
    assert got == code, err
    assert reason in err and "unchanged" in err
    assert status(capsys)["active"] == installed
    leftovers = [d.name for d in (store.root() / "sets").iterdir() if d.name.startswith(".staging")]
    assert leftovers == []


def _good(tmp_path, key, version=None) -> bytes:
    return build_bundle(make_set(tmp_path, version or ver(30)), key)


def test_refuses_bad_signature(tmp_path, key, installed, capsys):
    def flip(members):
        out = []
        for m, body in members:
            if m.name == "manifest.sig":
                sig = json.loads(body)
                raw = bytearray(base64.b64decode(sig["sig"]))
                raw[0] ^= 1
                sig["sig"] = base64.b64encode(bytes(raw)).decode()
                body = json.dumps(sig).encode()
            out.append((m, body))
        return out
    refused(tmp_path, capsys, retar(_good(tmp_path, key), flip), "bad_signature", installed)


def test_refuses_missing_signature(tmp_path, key, installed, capsys):
    data = retar(_good(tmp_path, key), lambda ms: [(m, b) for m, b in ms if m.name != "manifest.sig"])
    refused(tmp_path, capsys, data, "no_signature", installed)


def test_refuses_untrusted_key(tmp_path, key, installed, capsys):
    refused(tmp_path, capsys, _good(tmp_path, Ed25519PrivateKey.generate()), "untrusted_key", installed)


def test_refuses_changed_file(tmp_path, key, installed, capsys):
    def tamper(members):
        return [(m, b + b"\n# tampered\n" if m.name == "signatures/lifecycle.yaml" else b) for m, b in members]
    refused(tmp_path, capsys, retar(_good(tmp_path, key), tamper), "manifest_mismatch", installed)


def test_refuses_file_not_in_manifest(tmp_path, key, installed, capsys):
    data = retar(_good(tmp_path, key), lambda ms: [*ms, file_member("signatures/advisories/CTX999999.yaml", b"id: x\n")])
    refused(tmp_path, capsys, data, "manifest_mismatch", installed)


@pytest.mark.parametrize("name", ["../evil.yaml", "/etc/evil.yaml", "signatures/../../evil.yaml", "other/x.yaml",
                                  "signatures/.hidden", "signatures/a\x1b]0;x\x07.yaml"])
def test_refuses_member_outside_layout(tmp_path, key, installed, capsys, name):
    data = retar(_good(tmp_path, key), lambda ms: [*ms, file_member(name, b"x")])
    refused(tmp_path, capsys, data, "unsafe_member", installed)


def test_refuses_links_and_devices(tmp_path, key, installed, capsys):
    def add_link(members):
        info = tarfile.TarInfo("signatures/advisories/link.yaml")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        return [*members, (info, b"")]
    refused(tmp_path, capsys, retar(_good(tmp_path, key), add_link), "unsafe_member", installed)


def test_refuses_pax_headers_without_parsing_them(tmp_path, key, installed, capsys):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("signatures/x.yaml")
        info.pax_headers = {"comment": "A" * 40000}
        t.addfile(info, io.BytesIO(b""))
    refused(tmp_path, capsys, out.getvalue(), "unsafe_member", installed)


def test_refuses_set_that_fails_lint(tmp_path, key, installed, capsys):
    data = build_bundle(make_set(tmp_path, ver(30), break_it=True), key)
    refused(tmp_path, capsys, data, "lint", installed)


def test_refuses_downgrade_unless_allowed(tmp_path, key, installed, capsys):
    old = build_bundle(make_set(tmp_path, ver(2)), key)
    refused(tmp_path, capsys, old, "downgrade", installed)
    p = write_bundle(tmp_path, old, "old.tar.gz")
    code, _, err = cli(["signatures", "update", "--from", str(p), "--allow-downgrade"], capsys)
    assert code == 0, err


def test_refuses_set_needing_newer_nscheck(tmp_path, key, installed, capsys):
    data = build_bundle(make_set(tmp_path, ver(30)), key, min_nscheck="99.0")
    refused(tmp_path, capsys, data, "needs_newer_nscheck", installed)


def test_refuses_truncated_file(tmp_path, key, installed, capsys):
    data = _good(tmp_path, key)
    refused(tmp_path, capsys, data[: len(data) // 2], "truncated", installed, code=75)


def test_refuses_oversized_and_bombs(tmp_path, key, monkeypatch):
    keys = {k: t.key for k, t in trusted_keys().items()}
    with pytest.raises(BundleError) as e:
        read_bundle(b"\x1f\x8b" + b"\0" * (B.MAX_BUNDLE_BYTES + 1), keys)
    assert e.value.reason is Refusal.OVERSIZED
    # a small gzip that inflates past the cap
    import gzip
    monkeypatch.setattr(B, "MAX_UNPACKED_BYTES", 1_000_000)
    with pytest.raises(BundleError) as e:
        read_bundle(gzip.compress(b"\0" * 5_000_000), keys)
    assert e.value.reason is Refusal.OVERSIZED


def test_refuses_non_bundle(tmp_path, key, installed, capsys):
    refused(tmp_path, capsys, b"<html>captive portal</html>", "not_a_bundle", installed)


def test_missing_source_is_usage(key, capsys, monkeypatch):
    monkeypatch.delenv("NSCHECK_SIGNATURES_URL", raising=False)
    code, _, err = cli(["signatures", "update"], capsys)
    assert code == 64 and "no built-in feed address" in err
    code, _, err = cli(["signatures", "update", "--from", "/nonexistent/b.tar.gz"], capsys)
    assert code == 64 and "no such file" in err


def test_url_from_config_and_env(tmp_path, key, capsys, monkeypatch):
    p = write_bundle(tmp_path, _good(tmp_path, key))
    cfg = tmp_path / "scan.toml"
    cfg.write_text(f'signatures-url = "{p}"\nconcurrency = 5\n', encoding="utf-8")
    code, _, err = cli(["signatures", "update", "--config", str(cfg)], capsys)
    assert code == 0, err
    # the scan config loader accepts (and ignores) the feed's keys
    from nscheck.config import load
    assert load(cfg) == {"concurrency": 5}
    monkeypatch.setenv("NSCHECK_SIGNATURES_URL", str(p))
    code, out, _ = cli(["signatures", "update"], capsys)
    assert code == 0 and "already active" in out


# -- over HTTPS on loopback ----------------------------------------------------------------------

class _Feed(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}

    def log_message(self, *a) -> None:
        pass

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        if self.path == "/cut":
            data = self.routes["/good"]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(B.MAX_BUNDLE_BYTES + 10))
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + b"\0" * 1000)
            return
        if self.path == "/to-http":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/good")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def feed(tmp_path, key) -> Iterator[tuple[str, Path]]:
    cert, kp = loopback_cert(tmp_path, "feed")
    _Feed.routes = {"/good": _good(tmp_path, key)}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, kp)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"https://127.0.0.1:{srv.server_address[1]}", cert
    srv.shutdown()
    srv.server_close()


def test_https_update_verifies_tls_and_activates(feed, capsys):
    base, cert = feed
    # without the CA the self-signed feed is refused: TLS verification is on
    code, _, err = cli(["signatures", "update", "--from", f"{base}/good", "--timeout", "5"], capsys)
    assert code == 75 and "unchanged" in err
    code, _out, err = cli(["signatures", "update", "--from", f"{base}/good", "--ca", str(cert)], capsys)
    assert code == 0, err
    assert status(capsys)["active"]["source"] == f"{base}/good"


def test_https_interrupted_download_changes_nothing(feed, capsys):
    base, cert = feed
    before = status(capsys)["active"]
    code, _, err = cli(["signatures", "update", "--from", f"{base}/cut", "--ca", str(cert)], capsys)
    assert code == 75, err
    assert status(capsys)["active"] == before


def test_https_oversized_download_refused(feed, capsys):
    base, cert = feed
    code, _, err = cli(["signatures", "update", "--from", f"{base}/huge", "--ca", str(cert)], capsys)
    assert code == 65 and "announced" in err


def test_plain_http_and_redirect_to_http_refused(feed, capsys):
    base, cert = feed
    code, _, err = cli(["signatures", "update", "--from", base.replace("https", "http") + "/good"], capsys)
    assert code == 64 and "only https" in err
    code, _, err = cli(["signatures", "update", "--from", f"{base}/to-http", "--ca", str(cert)], capsys)
    assert code == 64 and "only https" in err


# -- concurrency ---------------------------------------------------------------------------------

def test_concurrent_updates_never_leave_a_half_set(tmp_path, key):
    from nscheck.feed.update import update
    from nscheck.signatures import lint

    bundles = [write_bundle(tmp_path, build_bundle(make_set(tmp_path, v), key), f"{v}.tgz")
               for v in (ver(21), ver(22))]
    errors: list[BaseException] = []

    def run(p: Path) -> None:
        try:
            update(str(p), SHIPPED, allow_downgrade=True)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(p,)) for p in bundles * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    act = store.active()
    assert act is not None and act.version in (ver(21), ver(22))
    assert lint(Path(act.path)).ok
    assert not [d for d in (store.root() / "sets").iterdir() if d.name.startswith(".staging")]


class _Slow(http.server.BaseHTTPRequestHandler):
    seen = threading.Event()

    def log_message(self, *a) -> None:
        pass

    def do_GET(self) -> None:
        _Slow.seen.set()
        time.sleep(0.6)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET


def test_scan_keeps_the_set_it_started_with(tmp_path, key, capsys):
    """An update that lands during a scan changes the next scan, not the running one."""
    p1 = write_bundle(tmp_path, build_bundle(make_set(tmp_path, ver(20)), key), "v1.tgz")
    p2 = write_bundle(tmp_path, build_bundle(make_set(tmp_path, ver(28)), key), "v2.tgz")
    assert cli(["signatures", "update", "--from", str(p1)], capsys)[0] == 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Slow.seen.clear()
    try:
        env = dict(os.environ)
        out = tmp_path / "run.jsonl"
        scan = subprocess.Popen([sys.executable, "-m", "nscheck", "scan", f"http://127.0.0.1:{srv.server_address[1]}/",
                                 "--jsonl", str(out), "--timeout", "3", "--request-budget", "6", "-q"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert _Slow.seen.wait(60), "scan never reached the host"
        assert cli(["signatures", "update", "--from", str(p2)], capsys)[0] == 0
        _, err = scan.communicate(timeout=120)
        docs = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        run_docs = [d for d in docs if d.get("event", {}).get("dataset") == "nscheck.run"]
        assert run_docs, err
        text = json.dumps(run_docs)
        assert ver(20) in text and ver(28) not in text
    finally:
        srv.shutdown()
        srv.server_close()
    pinned.cache_clear()
    assert status(capsys)["active"]["version"] == ver(28)


# -- the age warning ---------------------------------------------------------------------------

def test_age_warning_names_update_and_respects_quiet(tmp_path):
    err = io.StringIO()
    today = dt.date(2027, 6, 1)  # well past the shipped set's date, whatever it is
    assert check_signature_age(SHIPPED, None, today=today, err=err) is None
    assert "nscheck signatures update" in err.getvalue()
    err = io.StringIO()
    assert check_signature_age(SHIPPED, None, today=today, err=err, quiet=True) is None
    assert err.getvalue() == ""
    err = io.StringIO()
    assert check_signature_age(SHIPPED, 7, today=today, err=err, quiet=True) == 69
    assert "nscheck signatures update" in err.getvalue()
