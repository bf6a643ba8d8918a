"""The closed vocabulary of ``HttpResponse.error_kind`` and the one line between silent and broken."""

from __future__ import annotations

import ast
import asyncio
import errno
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scan_fakes import resp

import nscheck
from nscheck.model import HostStatus
from nscheck.options import ScanOptions
from nscheck.probe.client import _classify
from nscheck.probe.types import NO_ANSWER, ErrorKind, no_answer
from nscheck.runner import _host_status, scan_hosts

PKG = Path(nscheck.__file__).parent


def _error_kind_values() -> Iterator[tuple[str, int, ast.expr]]:
    """Every expression the package passes as ``error_kind=``, and every kind ``_classify_raw`` returns."""
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "error_kind":
                yield path.name, node.lineno, node.value
            if isinstance(node, ast.FunctionDef) and node.name == "_classify_raw":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Tuple):
                        yield path.name, ret.lineno, ret.value.elts[0]


def test_every_error_kind_the_code_sets_is_an_error_kind_member() -> None:
    seen: set[str] = set()
    for name, line, value in _error_kind_values():
        if isinstance(value, ast.Name):  # a variable: it comes from _classify (checked below) or a member
            continue
        assert isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "ErrorKind", \
            f"{name}:{line}: error_kind must be an ErrorKind member, not {ast.unparse(value)}"
        assert value.attr in ErrorKind.__members__, f"{name}:{line}: no ErrorKind.{value.attr}"
        seen.add(value.attr)
    # the client really emits the kinds the issue found outside the old comment
    assert {"EXCLUDED", "ERROR", "NITRO_LOCKED", "PROXY", "READ_TIMEOUT"} <= seen


@pytest.mark.parametrize(("exc", "kind"), [
    (TimeoutError(), ErrorKind.DEADLINE),
    (httpx.ConnectTimeout("timed out"), ErrorKind.CONNECT_TIMEOUT),
    (httpx.ReadTimeout("timed out"), ErrorKind.READ_TIMEOUT),
    (httpx.ProxyError("407"), ErrorKind.PROXY),
    (httpx.ConnectError("[Errno -2] Name or service not known"), ErrorKind.DNS),
    (httpx.ConnectError(f"[Errno {errno.ECONNREFUSED}] Connection refused"), ErrorKind.CONNECT),
    (httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number"), ErrorKind.TLS),
    (ssl.SSLError("bad record"), ErrorKind.TLS),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."), ErrorKind.RESET),
    (httpx.RemoteProtocolError("illegal header"), ErrorKind.PROTOCOL),
    (httpx.ReadError("reset by peer"), ErrorKind.RESET),
    (ValueError("a bug"), ErrorKind.ERROR),
])
def test_classify_returns_members(exc: BaseException, kind: ErrorKind) -> None:
    got, reason = _classify(exc)
    assert type(got) is ErrorKind and got is kind and reason


def test_members_serialize_as_their_old_strings() -> None:
    assert [k.value for k in ErrorKind] == [k.name.lower() for k in ErrorKind]
    assert json.dumps({"k": ErrorKind.READ_TIMEOUT}) == '{"k": "read_timeout"}'
    assert f"{ErrorKind.CONNECT_TIMEOUT}" == "connect_timeout" and ErrorKind("excluded") is ErrorKind.EXCLUDED


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_runner_and_client_draw_the_same_no_answer_line(kind: ErrorKind) -> None:
    failed = [resp("https://h/", None, error=f"failed: {kind}", error_kind=kind),
              resp("https://h/x", None, error=f"failed: {kind}", error_kind=kind)]
    status, reason = _host_status(failed)
    assert (status is HostStatus.UNREACHABLE) == no_answer(failed) == (kind in NO_ANSWER)
    assert status in (HostStatus.UNREACHABLE, HostStatus.ERROR) and reason  # never a clean verdict
    # a plain string from an older caller decides the same way
    assert no_answer([resp("https://h/", None, error="x", error_kind=str(kind))]) == (kind in NO_ANSWER)
    # one answer, however broken the rest, means the host is reachable
    assert not no_answer([resp("https://h/", 200, b"x"), *failed])


def test_read_timeout_is_no_answer() -> None:
    assert ErrorKind.READ_TIMEOUT in NO_ANSWER
    assert not NO_ANSWER & {ErrorKind.TLS, ErrorKind.RESET, ErrorKind.PROTOCOL, ErrorKind.DEADLINE, ErrorKind.PROXY}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never sends a byte."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        finally:
            writer.close()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(silent, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()
        loop.close()


def test_a_silent_host_is_unreachable_over_http_and_https(silent_port: int) -> None:
    """http: connected, asked, no answer (read timeout); https: the TLS handshake gets no answer
    (httpx says connect timeout). One silent appliance, one verdict, and the reason tells which."""
    opts = ScanOptions(timeout=0.5, host_deadline=5.0, retries=0, indicators=False)
    http, https = scan_hosts([f"http://127.0.0.1:{silent_port}", f"https://127.0.0.1:{silent_port}"], opts)
    assert http.status is HostStatus.UNREACHABLE and http.error == "read timeout"
    assert https.status is HostStatus.UNREACHABLE and https.error == "connect timeout"
