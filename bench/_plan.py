"""The request plan shared by the baseline and the raw loader: JSON Lines, one host a line,
``{"base": "https://127.0.0.1:20001", "requests": [["GET", "/vpn/index.html", {"Range": "bytes=0-0"}], ...]}``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def iter_plan(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def plan_totals(path: str) -> tuple[int, int]:
    """(hosts, requests) in a plan file."""
    hosts = reqs = 0
    for h in iter_plan(path):
        hosts += 1
        reqs += len(h["requests"])
    return hosts, reqs
