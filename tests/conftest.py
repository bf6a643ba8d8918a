"""Shared test setup and fixtures used by several test modules.

- every test process gets its own empty signature store (NSCHECK_DATA_DIR), never the user's;
- ``run_cli``: run ``nscheck ...`` in-process as cron would see it: (exit code, stdout, stderr);
- ``signatures_copy``: a private copy of the shipped signature set, for tests that break a file;
- ``counting_server``: a plain-HTTP loopback server that counts the requests reaching it (proves
  "nothing was sent" without trusting the code under test).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Verified signature sets live in a per-user data directory; tests must never read (or write) the
# real one of whoever runs them, so every test process, and the subprocesses it starts, gets its
# own empty store unless a test points NSCHECK_DATA_DIR elsewhere.
os.environ["NSCHECK_DATA_DIR"] = tempfile.mkdtemp(prefix="nscheck-test-data-")

from nscheck.paths import signatures_dir

SHIPPED_SIGNATURES = signatures_dir(None)

RunCli = Callable[[list[str]], tuple[int, str, str]]


def _run_cli(args: list[str]) -> tuple[int, str, str]:
    from nscheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        main(args)
    return int(ex.value.code or 0), out.getvalue(), err.getvalue()


@pytest.fixture
def run_cli() -> RunCli:
    return _run_cli


@pytest.fixture
def signatures_copy(tmp_path: Path) -> Path:
    d = tmp_path / "signatures"
    shutil.copytree(SHIPPED_SIGNATURES, d)
    return d


class CountingHandler(BaseHTTPRequestHandler):
    hits = 0
    body = b"<html><head><title>hello</title></head><body>plain site</body></html>"

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[tuple[str, type[CountingHandler]]]:
    """(base URL on 127.0.0.1, handler class whose ``hits`` counts requests)."""
    handler = type("Handler", (CountingHandler,), {"hits": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
