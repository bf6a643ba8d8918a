"""The build model: every string form, integer ordering, edition inference, bad input."""

from __future__ import annotations

import pytest

from nscheck.build import Build, BuildError, Edition, Train, edition_candidates, parse_build, parse_edition

S, F, N = Edition.STANDARD, Edition.FIPS, Edition.NDCPP


@pytest.mark.parametrize(
    ("text", "release", "major", "minor", "edition"),
    [
        ("14.1-47.46", "14.1", 47, 46, None),
        ("14.1.47.46", "14.1", 47, 46, None),
        ("13.1-37.241 FIPS", "13.1", 37, 241, F),
        ("14.1-66.68-FIPS", "14.1", 66, 68, F),
        ("NS14.1 Build 47.46.nc", "14.1", 47, 46, None),
        ("NetScaler NS14.1: Build 47.46.nc, Date: Jun 7 2025, 10:22:30 (64-bit)", "14.1", 47, 46, None),
        ("#NS14.1 Build 47.46", "14.1", 47, 46, None),
        ("ns-14.1-47.46.gz", "14.1", 47, 46, None),
        ("/flash/ns-14.1-47.46.gz", "14.1", 47, 46, None),
        ('{"nsversion":{"version":"NetScaler NS14.1: Build 29.72.nc"}}', "14.1", 29, 72, None),
        ("NetScaler NS14.1: Build 4.3401.a.nc", "14.1", 4, 3401, None),
        ("  13.1-45.61 ", "13.1", 45, 61, None),
        ("12.1-55.291 NDcPP", "12.1", 55, 291, N),
        ("13.1.37.279 FIPS and NDcPP", "13.1", 37, 279, None),  # names both: left to candidates
    ],
)
def test_parse_every_form(text: str, release: str, major: int, minor: int, edition: Edition | None) -> None:
    b = parse_build(text)
    assert (b.release, b.major, b.minor, b.edition) == (release, major, minor, edition)


def test_explicit_edition_wins_over_text() -> None:
    assert parse_build("13.1-37.241 FIPS", "ndcpp").edition is N
    assert parse_build("14.1-47.46", Edition.FIPS).edition is F
    assert parse_build("14.1-47.46", "standard").edition is S


def test_canonical_text() -> None:
    assert str(parse_build("NS14.1 Build 47.46.nc")) == "14.1-47.46"
    assert str(parse_build("13.1-37.241 FIPS")) == "13.1-37.241 FIPS"
    assert parse_build("14.1.47.46").plain == "14.1-47.46"
    assert str(Train("13.1", N)) == "13.1-NDcPP"
    assert str(Train("14.1", S)) == "14.1"


def test_integer_ordering_not_float() -> None:
    newer, older = parse_build("13.1-9.107"), parse_build("13.1-9.60")
    assert older.older_than(newer)
    assert not newer.older_than(older)
    assert parse_build("13.1.9.107").version > parse_build("13.1.9.60").version
    assert not parse_build("14.1-47.46").older_than(parse_build("14.1-47.46"))


def test_no_comparison_across_releases() -> None:
    with pytest.raises(BuildError, match="different release"):
        parse_build("13.1-37.241").older_than(parse_build("14.1-4.42"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.1-55.300", (F, N)),
        ("12.1-55.13", (S,)),
        ("12.1-55.18", (S,)),
        ("12.1-55.24", (S,)),
        ("13.1-37.241", (F, N)),
        ("13.1-37.38", (S,)),
        ("13.1-59.22", (S,)),
        ("12.1-65.35", (S,)),
        ("14.1-72.61", (S, F)),
        ("13.0-92.31", (S,)),
        ("13.1-37.241 FIPS", (F,)),
        ("14.1-72.61 FIPS", (F,)),
    ],
)
def test_edition_candidates(text: str, expected: tuple[Edition, ...]) -> None:
    assert edition_candidates(parse_build(text)) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "garbage", "99.1-1.1", "1.2.3", "14.1", "14.1-", "NS14.1 Build x", "x" * 5000,
     "line one\nline two"],
)
def test_bad_input_is_one_line_build_error(bad: str) -> None:
    with pytest.raises(BuildError) as ei:
        parse_build(bad)
    msg = str(ei.value)
    assert msg and "\n" not in msg and len(msg) < 300


def test_non_text_is_build_error() -> None:
    with pytest.raises(BuildError):
        parse_build(None)  # type: ignore[arg-type]


def test_parse_edition() -> None:
    assert parse_edition("FIPS") is F
    assert parse_edition("NDcPP") is N
    assert parse_edition("mainline") is S
    with pytest.raises(BuildError):
        parse_edition("enterprise")


def test_train_needs_an_edition() -> None:
    with pytest.raises(BuildError):
        Build("14.1", 47, 46).train()
    assert Build("14.1", 47, 46).train(F) == Train("14.1", F)
