"""Zones of scan places given as free text (docs/tracking-apis.md "Event times without an
offset")."""

from __future__ import annotations

import pytest

from carriers.zones import COUNTRY_NAMES, country_in, zone_for


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("NL", "NL"),
        ("nld", "NLD"),
        ("HONG KONG", "HKG"),
        ("Port Melbourne (MEL) - AUSTRALIA", "AUS"),
        ("VALENCIA  -  SPAIN", "ESP"),
        ("POSTNL - ADAM", None),
        ("", None),
        (None, None),
    ],
)
def test_a_country_field_gives_its_code(text: str | None, code: str | None) -> None:
    assert country_in(text) == code


def test_every_named_country_has_a_zone() -> None:
    for alpha3, _ in COUNTRY_NAMES:
        assert zone_for(alpha3) is not None, alpha3
