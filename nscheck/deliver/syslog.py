"""``--syslog udp://|tcp://|tls://HOST:PORT``: RFC 5424 messages with structured data.

One message per finding (MSGID ``finding``) plus a run summary (MSGID ``run``). Structured data
uses the private SD-ID ``nscheck@32473`` (32473 is the example enterprise number of RFC 5612,
reserved for documentation; nscheck has no number of its own). TCP and TLS use octet-counting
framing (RFC 6587 §3.4.1; RFC 5425 for TLS), UDP one datagram per message (RFC 5426), cut at
2048 bytes. TLS verifies the collector's certificate (``--syslog-ca`` for a private CA).
Facility local0; severity from the finding's (critical → crit, high → err, medium → warning,
low → notice, info → info).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from nscheck.deliver.base import ThreadedDelivery
from nscheck.deliver.spool import Spool
from nscheck.model import HostResult, RunInfo, RunSummary
from nscheck.report.ecs import EcsWriter

SD_ID = "nscheck@32473"
FACILITY = 16  # local0
UDP_MAX = 2048
_SEVERITY = {90: 2, 70: 3, 50: 4, 30: 5, 10: 6}
DEFAULT_PORTS = {"udp": 514, "tcp": 514, "tls": 6514}


class SyslogURLError(ValueError):
    pass


def parse_url(url: str) -> tuple[str, str, int]:
    try:
        p = urlsplit(url)
        port = p.port
    except ValueError as e:
        raise SyslogURLError(f"--syslog {url!r}: {e}") from None
    if p.scheme not in DEFAULT_PORTS or not p.hostname:
        raise SyslogURLError(f"--syslog {url!r}: expected udp://HOST[:PORT], tcp://HOST[:PORT] or tls://HOST[:PORT]")
    if p.username or p.password:
        raise SyslogURLError("--syslog: the URL must not carry a user or password")
    return p.scheme, p.hostname, port or DEFAULT_PORTS[p.scheme]


def _sd_value(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=True) \
        if isinstance(v, list | dict) else str(v).lower() if isinstance(v, bool) else str(v)
    # RFC 5424 §6.3.3: '"', '\' and ']' are escaped; control characters never reach here (cleaned)
    s = "".join(ch if ch >= " " and ch != "\x7f" else "?" for ch in s)[:1024]
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _sd_name(name: str) -> str:
    return "".join(ch for ch in name if (ch.isascii() and ch.isalnum()) or ch in "_-.")[:32]


def format_message(doc: dict[str, Any], *, msgid: str, hostname: str, params: dict[str, Any]) -> str:
    raw_sev = (doc.get("event") or {}).get("severity")
    sev = _SEVERITY.get(raw_sev, 6) if isinstance(raw_sev, int) else 6
    ts = doc.get("@timestamp") or dt.datetime.now(dt.UTC).isoformat()
    ts = str(ts).replace("+00:00", "Z")
    sd = "".join(f' {_sd_name(k)}="{_sd_value(v)}"' for k, v in params.items() if v not in (None, "", []))
    msg = str(doc.get("message") or "").replace("\n", " ")
    host = _sd_name(hostname) or "-"
    return f"<{FACILITY * 8 + sev}>1 {ts} {host} nscheck - {msgid} [{SD_ID}{sd}] {msg}"


class SyslogSink(ThreadedDelivery):
    name = "syslog"

    def __init__(self, url: str, spool_dir: Any, *, ca_file: str | None = None, timeout: float = 5.0,
                 observer_hostname: str | None = None, close_wait_s: float = 10.0):
        self.scheme, self.host_, self.port = parse_url(url)
        super().__init__(f"syslog {self.scheme}://{self.host_}:{self.port}",
                         Spool(spool_dir, f"syslog|{self.scheme}|{self.host_}|{self.port}"), close_wait_s=close_wait_s)
        self.ca_file, self.timeout = ca_file, timeout
        self.observer_hostname = observer_hostname or socket.gethostname()
        self.sock: socket.socket | None = None
        self.writer: EcsWriter | None = None

    def begin(self, run: RunInfo) -> None:
        self.writer = EcsWriter(run, observer_hostname=self.observer_hostname)

    def events_for_host(self, result: HostResult) -> list[str]:
        assert self.writer is not None
        out = []
        for doc in self.writer.host_documents(result):
            if doc["event"]["dataset"] != "nscheck.finding":
                continue
            ns, vul = doc.get("nscheck") or {}, doc.get("vulnerability") or {}
            params = {"finding_id": ns.get("finding_id"), "kind": ns.get("kind"), "rule": (doc.get("rule") or {}).get("id"),
                      "host": (doc.get("host") or {}).get("name"), "target": ns.get("target"),
                      "verdict": ns.get("verdict"), "host_verdict": ns.get("host_verdict"),
                      "severity": vul.get("severity"), "cves": ",".join(vul.get("id") or []),
                      "cvss": (vul.get("score") or {}).get("base"), "fixed_in": ns.get("fixed_in"),
                      "transition": ns.get("transition"), "status": ns.get("status"), "suppressed": ns.get("suppressed"),
                      "action": (doc.get("event") or {}).get("action"), "run_id": ns.get("run_id")}
            out.append(format_message(doc, msgid="finding", hostname=self.observer_hostname, params=params))
        return out

    def events_for_run(self, summary: RunSummary) -> list[str]:
        assert self.writer is not None
        doc = self.writer.run_document(summary)
        ns = doc.get("nscheck") or {}
        params = {"run_id": ns.get("run_id"), "hosts": ns.get("hosts"), "partial": ns.get("partial"),
                  **{f"count_{k}": v for k, v in (ns.get("counts") or {}).items()},
                  **{f"trans_{k}": v for k, v in (ns.get("transitions") or {}).items()}}
        return [format_message(doc, msgid="run", hostname=self.observer_hostname, params=params)]

    def _connect(self) -> socket.socket:
        if self.scheme == "udp":
            s = socket.socket(socket.AF_INET6 if ":" in self.host_ else socket.AF_INET, socket.SOCK_DGRAM)
            s.connect((self.host_, self.port))
            return s
        raw = socket.create_connection((self.host_, self.port), timeout=self.timeout)
        if self.scheme == "tls":
            ctx = ssl.create_default_context(cafile=self.ca_file)
            return ctx.wrap_socket(raw, server_hostname=self.host_)
        return raw

    def send(self, batch: list[str]) -> int:
        for attempt in range(3):
            sent = 0
            try:
                if self.sock is None:
                    self.sock = self._connect()
                for line in batch[sent:]:
                    data = line.encode("utf-8", "replace")
                    if self.scheme == "udp":
                        self.sock.send(data[:UDP_MAX])
                    else:
                        self.sock.sendall(str(len(data)).encode() + b" " + data)
                    sent += 1
                return len(batch)
            except OSError as e:
                self.stats.errors.append(f"{type(e).__name__}: {e.strerror or e}")
                if self.sock is not None:
                    with contextlib.suppress(OSError):
                        self.sock.close()
                    self.sock = None
                if sent:
                    return sent
                self.backoff(attempt)
        return 0

    def end(self) -> None:
        if self.sock is not None:
            if self.scheme != "udp":
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_WR)
            self.sock.close()
            self.sock = None
