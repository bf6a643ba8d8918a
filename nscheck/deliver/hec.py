"""``--hec-url URL``: Splunk HTTP Event Collector, batched, acknowledged, spooled.

Endpoints (Splunk docs, "HTTP Event Collector REST API endpoints"): ``POST
/services/collector/event`` with ``Authorization: Splunk <token>`` and a body of concatenated JSON
event objects ``{"time", "host", "source", "sourcetype", "index", "event"}``; with indexer
acknowledgement on (``--hec-ack``) the request carries ``X-Splunk-Request-Channel`` and the
answer an ``ackId``, polled at ``POST /services/collector/ack`` (``{"acks": [id]}`` →
``{"acks": {"id": true}}``). Events are the ECS documents of ``--jsonl`` (``nscheck.finding``,
``nscheck.host``, ``nscheck.run``), so Splunk searches and Elastic rules see the same fields;
``nscheck.finding_id`` and ``event.id`` make re-sent events (at-least-once) easy to de-duplicate.

The token comes from ``$NSCHECK_HEC_TOKEN`` or ``--hec-token-file`` and is sent only to the HEC
URL given, never shown. 429/5xx/connection errors are retried with backoff; 4xx other than 429
(a wrong token, a disabled input) stop sending for the rest of the run; what was not taken, or
not acknowledged, is spooled for the next run.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nscheck.deliver.base import ThreadedDelivery
from nscheck.deliver.spool import Spool
from nscheck.model import HostResult, RunInfo, RunSummary
from nscheck.report.ecs import EcsWriter, dumps

BATCH_EVENTS = 200
BATCH_BYTES = 512 * 1024
ACK_WAIT_S = 10.0


class HecURLError(ValueError):
    pass


def endpoint(url: str) -> tuple[str, str]:
    """(event URL, ack URL) from what the user gave: a base URL or the event endpoint itself."""
    try:
        p = urlsplit(url)
    except ValueError as e:
        raise HecURLError(f"--hec-url {url!r}: {e}") from None
    if p.scheme not in ("https", "http") or not p.hostname:
        raise HecURLError(f"--hec-url {url!r}: expected https://HOST:8088[/services/collector/event]")
    if p.username or p.password:
        raise HecURLError("--hec-url: the URL must not carry a user or password (the token is read from "
                          "$NSCHECK_HEC_TOKEN or --hec-token-file)")
    path = p.path.rstrip("/")
    if not path.endswith("/services/collector/event"):
        path = path + "/services/collector/event"
    ev = urlunsplit((p.scheme, p.netloc, path, "", ""))
    return ev, ev[: -len("/event")] + "/ack"


class HecSink(ThreadedDelivery):
    name = "hec"

    def __init__(self, url: str, token: str, spool_dir: Any, *, sourcetype: str = "nscheck", index: str | None = None,
                 source: str = "nscheck", ack: bool = False, verify: bool = True, ca_file: str | None = None,
                 timeout: float = 10.0, observer_hostname: str | None = None, close_wait_s: float = 15.0,
                 retries: int = 3):
        self.event_url, self.ack_url = endpoint(url)
        super().__init__(f"hec {self.event_url}", Spool(spool_dir, f"hec|{self.event_url}|{index or ''}"),
                         close_wait_s=close_wait_s)
        self._token = token
        self.sourcetype, self.index, self.source, self.ack = sourcetype, index, source, ack
        self.verify, self.ca_file, self.timeout, self.retries = verify, ca_file, timeout, retries
        self.observer_hostname = observer_hostname or socket.gethostname()
        self.channel = str(uuid.uuid4())
        self.writer: EcsWriter | None = None
        self.client: Any = None

    def __repr__(self) -> str:  # never the token
        return f"HecSink({self.event_url!r}, token=***)"

    def begin(self, run: RunInfo) -> None:
        from nscheck.probe.client import CollectorClient

        self.writer = EcsWriter(run, observer_hostname=self.observer_hostname)
        self.client = CollectorClient(timeout=self.timeout, verify=self.verify, ca_file=self.ca_file)

    def _wrap(self, doc: dict[str, Any]) -> str:
        ts = doc.get("@timestamp")
        ev: dict[str, Any] = {"host": self.observer_hostname, "source": self.source, "sourcetype": self.sourcetype,
                              "event": doc}
        try:
            import datetime as dt

            ev["time"] = round(dt.datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp(), 3)
        except ValueError:
            pass
        if self.index:
            ev["index"] = self.index
        return dumps(ev)

    def events_for_host(self, result: HostResult) -> list[str]:
        assert self.writer is not None
        return [self._wrap(d) for d in self.writer.host_documents(result)]

    def events_for_run(self, summary: RunSummary) -> list[str]:
        assert self.writer is not None
        return [self._wrap(self.writer.run_document(summary))]

    def send(self, batch: list[str]) -> int:
        taken = 0
        while taken < len(batch):
            chunk: list[str] = []
            size = 0
            for line in batch[taken:]:
                if chunk and (len(chunk) >= BATCH_EVENTS or size + len(line) > BATCH_BYTES):
                    break
                chunk.append(line)
                size += len(line) + 1
            if not self._post(chunk):
                return taken
            taken += len(chunk)
        return taken

    def _post(self, chunk: list[str]) -> bool:
        from nscheck.probe.client import CollectorError

        body = "\n".join(chunk).encode()
        headers = {"Authorization": f"Splunk {self._token}"}
        if self.ack:
            headers["X-Splunk-Request-Channel"] = self.channel
        for attempt in range(self.retries + 1):
            try:
                answer = self.client.post_json(self.event_url, body, headers)
            except CollectorError as e:
                self.stats.errors.append(str(e))
                if not e.retry:
                    self._down = True  # a wrong token or a disabled input does not heal within a run
                    return False
                if attempt < self.retries:
                    self.backoff(attempt)
                continue
            if not self.ack:
                return True
            ack_id = answer.get("ackId") if isinstance(answer, dict) else None
            if ack_id is None:
                self.stats.errors.append("HEC answered without an ackId (is indexer acknowledgement on?)")
                return False
            return self._wait_ack(ack_id, headers)
        return False

    def _wait_ack(self, ack_id: Any, headers: dict[str, str]) -> bool:
        from nscheck.probe.client import CollectorError

        deadline = time.monotonic() + ACK_WAIT_S
        body = json.dumps({"acks": [ack_id]}).encode()
        while time.monotonic() < deadline:
            try:
                answer = self.client.post_json(self.ack_url, body, headers)
            except CollectorError as e:
                self.stats.errors.append(f"ack: {e}")
                if not e.retry:
                    return False
            else:
                acks = answer.get("acks") if isinstance(answer, dict) else None
                if isinstance(acks, dict) and acks.get(str(ack_id)) is True:
                    return True
            time.sleep(0.2)
        self.stats.errors.append(f"ack {ack_id} not confirmed within {ACK_WAIT_S:.0f} s")
        return False

    def end(self) -> None:
        if self.client is not None:
            self.client.close()
