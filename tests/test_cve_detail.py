"""``CveDetail``: typed per-CVE judgements that serialize exactly as the loose dicts did."""

from __future__ import annotations

import json

from nscheck.assess.advisories import assess, load_default
from nscheck.build import parse_build
from nscheck.model import AdvisoryResult, CveDetail, Precondition, Verdict


def test_engine_details_are_typed_and_round_trip_byte_for_byte() -> None:
    res = assess(load_default(), [parse_build("13.1-49.14"), parse_build("14.1-43.50")])
    details = [c for a in res.advisories for c in a.cve_details]
    assert details and all(type(c) is CveDetail for c in details)
    assert all(isinstance(c.verdict, Verdict) and isinstance(c.precondition_state, Precondition) for c in details)
    for a in res.advisories:
        doc = a.to_dict()
        again = AdvisoryResult.from_dict(json.loads(json.dumps(doc)))
        assert json.dumps(again.to_dict()) == json.dumps(doc)
        assert again.cve_details == a.cve_details  # the same values, typed again
    first = details[0].to_dict()
    assert list(first)[:13] == ["id", "cvss", "cvss_confirmed", "type", "cwe", "kev_added", "kev_confirmed",
                                "precondition", "requires", "build_affected", "precondition_state", "verdict", "reason"]
    named = [c for c in details if c.name]
    assert named and all(c.to_dict()["name"] == c.name for c in named)
    assert all("name" not in c.to_dict() for c in details if not c.name)


def test_saved_details_keep_their_keys_order_and_unknown_fields() -> None:
    saved = [{"id": "CVE-2025-5777", "kev_added": "2025-07-10"},
             {"verdict": "vulnerable", "id": "CVE-1", "exploited_since": "2025-06-20 (vendor)", "cvss": 10},
             {"id": 7, "verdict": "maybe", "requires": "gateway", "build_affected": "yes"}]
    got = [CveDetail.from_dict(d) for d in saved]
    assert [g.to_dict() for g in got] == saved
    assert json.dumps([g.to_dict() for g in got]) == json.dumps(saved)
    assert got[0].kev_added == "2025-07-10" and got[0].verdict is None
    assert got[1].verdict is Verdict.VULNERABLE and got[1].other_value("exploited_since") == "2025-06-20 (vendor)"
    # values of the wrong type are kept as read, never guessed into a typed field
    assert got[2].id == "" and got[2].verdict is None and got[2].requires is None and got[2].build_affected is None
    assert got[2].other_value("verdict") == "maybe"


def test_the_schemas_describe_the_detail_and_accept_engine_output() -> None:
    import jsonschema

    from nscheck.paths import schemas_dir

    res = assess(load_default(), [parse_build("13.1-49.14")])
    for name in ("nscheck.host-1.schema.json", "nscheck.triage-1.schema.json"):
        schema = json.loads((schemas_dir() / name).read_text(encoding="utf-8"))
        items = schema["$defs"]["advisory"]["properties"]["cve_details"]["items"]
        assert set(items["properties"]) == {f for f in CveDetail.__dataclass_fields__ if f not in ("other", "keys")}
        assert {v for v in items["properties"]["verdict"]["enum"] if v} == {v.value for v in Verdict}
        for a in res.advisories:
            for c in a.cve_details:
                jsonschema.validate(c.to_dict(), items)
