"""Remote indicators of compromise (owned by the indicators work; this is the call site contract).

``check_host`` runs page-content rules over pages already fetched and path rules (extra GETs via
the host's Fetcher, within its budget), and returns hits plus explicit skips.
"""

from __future__ import annotations

from collections.abc import Sequence

from nscheck.model import Indicator, Skipped
from nscheck.probe.types import Fetcher, HttpResponse


async def check_host(
    fetcher: Fetcher,
    pages: Sequence[HttpResponse],
    *,
    roles: Sequence[str] = (),
    signatures_dir: object | None = None,
    allow_origins: Sequence[str] = (),
) -> tuple[list[Indicator], list[Skipped]]:
    return [], [Skipped("indicators", "remote indicator checks not implemented yet")]
