"""Zone names as staff and other systems type them all mean the one IANA name we store."""

from __future__ import annotations

import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.schedule.zones import COMMON, check_zone


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("America/Chicago", "America/Chicago"),
        ("Chicago", "America/Chicago"),
        ("chicago", "America/Chicago"),
        ("  new york ", "America/New_York"),
        ("america/los_angeles", "America/Los_Angeles"),
        ("Honolulu", "Pacific/Honolulu"),
        ("Indianapolis", "America/Indiana/Indianapolis"),  # the current of its two names
        ("UTC", "UTC"),
        ("London", "Europe/London"),
    ],
)
def test_a_city_or_a_name_in_any_case_is_read_as_its_zone(typed: str, stored: str) -> None:
    assert check_zone(typed) == stored


@pytest.mark.parametrize("typed", ["Chicag", "America", "Central", "", "Mars/Base", "x" * 65])
def test_what_names_no_zone_is_refused_with_what_to_type(typed: str) -> None:
    with pytest.raises(ValueError, match="expected a city such as Chicago or an IANA name"):
        check_zone(typed)


@given(st.sampled_from(sorted(zoneinfo.available_timezones())))
def test_every_zone_name_is_kept_as_it_is(name: str) -> None:
    assert check_zone(name) == name
    assert check_zone(name.lower()) == name or check_zone(name.lower()).lower() == name.lower()


def test_the_suggested_zones_exist() -> None:
    assert [check_zone(name) for name, _ in COMMON] == [name for name, _ in COMMON]
