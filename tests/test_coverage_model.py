"""``Coverage``: the typed triage coverage record, written back exactly as it was read."""

from __future__ import annotations

import json
from dataclasses import fields

from test_report_fixtures import TRIAGE_COVERAGE

from nscheck.model import _COVERAGE_READ, Coverage, HostResult, HostStatus


def test_every_field_has_a_reader_and_every_reader_a_field() -> None:
    modelled = [f.name for f in fields(Coverage) if f.name not in ("other", "keys")]
    assert list(_COVERAGE_READ) == modelled


def test_a_full_record_is_typed_and_round_trips_byte_for_byte() -> None:
    cov = Coverage.from_dict(json.loads(json.dumps(TRIAGE_COVERAGE)))
    assert cov.other == ()  # every key of the fixture is modelled
    assert cov.summary is None and cov.collected_at == "2026-10-30T09:00:00Z" and cov.unreadable_count == 1
    assert cov.families is not None and cov.families["timestomp"]["status"] == "not checked"
    assert cov.missing == ({"area": "/var/core", "unchecked": "NSPPE core dumps (YARA)"},)
    assert cov.refused == ("var/tmp/dev0: device node",)  # the older plain-string form is still read
    assert json.dumps(cov.to_dict()) == json.dumps(TRIAGE_COVERAGE)
    r = HostResult(target="x.tgz", status=HostStatus.OK, kind="triage", coverage=cov)
    again = HostResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again.coverage == cov and json.dumps(again.to_dict()) == json.dumps(r.to_dict())


def test_saved_shapes_keep_their_order_nulls_unknown_keys_and_wrong_types() -> None:
    saved = {"error": "cannot open", "source": {"path": "/x", "type": "unavailable"}, "collected_at": None,
             "next_steps": ["check the path"], "from_a_later_version": {"k": 1}, "unreadable_count": "3",
             "families": {"log": {"status": "checked"}}}
    cov = Coverage.from_dict(saved)
    assert list(cov.to_dict()) == list(saved) and json.dumps(cov.to_dict()) == json.dumps(saved)
    assert cov.has("collected_at") and cov.collected_at is None and not cov.has("summary")
    assert cov.next_steps == ("check the path",) and cov.error == "cannot open"
    assert cov.unreadable_count is None and dict(cov.other) == {"from_a_later_version": {"k": 1}, "unreadable_count": "3"}


def test_an_empty_record_says_nothing_was_looked_at() -> None:
    assert not Coverage.from_dict({}) and not Coverage()
    assert Coverage(summary="x") and Coverage(summary="x").to_dict() == {"summary": "x"}
    assert Coverage(summary="s", next_steps=("a",)).has("next_steps")
    assert HostResult.from_dict({"kind": "triage", "status": "ok", "coverage": {}}).to_dict()["coverage"] == {}
