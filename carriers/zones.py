"""The time zone of a scan's location, for event times sent without an offset (docs/tracking-apis.md
"Event times without an offset").

AfterShip sends many couriers' checkpoint times as the checkpoint's local wall-clock time,
with no offset; reading them all in one zone puts a USA scan hours away from where it
happened and a timeline mixing zones out of order. The checkpoint's country (ISO 3166 alpha-3
or alpha-2, or an English name in free text such as AfterShip's `country_name`) and, for
countries spanning several zones, its state give the zone; as data.
"""

from __future__ import annotations

from typing import Final
from zoneinfo import ZoneInfo

# Countries with one zone: (alpha-3, alpha-2, zone).
COUNTRY_ZONES: Final[tuple[tuple[str, str, str], ...]] = (
    ("CHN", "CN", "Asia/Shanghai"),
    ("HKG", "HK", "Asia/Hong_Kong"),
    ("MAC", "MO", "Asia/Macau"),
    ("TWN", "TW", "Asia/Taipei"),
    ("JPN", "JP", "Asia/Tokyo"),
    ("KOR", "KR", "Asia/Seoul"),
    ("SGP", "SG", "Asia/Singapore"),
    ("MYS", "MY", "Asia/Kuala_Lumpur"),
    ("THA", "TH", "Asia/Bangkok"),
    ("VNM", "VN", "Asia/Ho_Chi_Minh"),
    ("PHL", "PH", "Asia/Manila"),
    ("IND", "IN", "Asia/Kolkata"),
    ("ARE", "AE", "Asia/Dubai"),
    ("GBR", "GB", "Europe/London"),
    ("IRL", "IE", "Europe/Dublin"),
    ("DEU", "DE", "Europe/Berlin"),
    ("FRA", "FR", "Europe/Paris"),
    ("NLD", "NL", "Europe/Amsterdam"),
    ("BEL", "BE", "Europe/Brussels"),
    ("ITA", "IT", "Europe/Rome"),
    ("ESP", "ES", "Europe/Madrid"),
    ("POL", "PL", "Europe/Warsaw"),
    ("CHE", "CH", "Europe/Zurich"),
    ("AUT", "AT", "Europe/Vienna"),
    ("SWE", "SE", "Europe/Stockholm"),
    ("NZL", "NZ", "Pacific/Auckland"),
)

# USA states by zone (the zone of most of the state).
US_STATE_ZONES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (
        "America/New_York",
        (
            "CT",
            "DE",
            "DC",
            "FL",
            "GA",
            "IN",
            "KY",
            "ME",
            "MD",
            "MA",
            "MI",
            "NH",
            "NJ",
            "NY",
            "NC",
            "OH",
            "PA",
            "RI",
            "SC",
            "VT",
            "VA",
            "WV",
        ),
    ),
    (
        "America/Chicago",
        (
            "AL",
            "AR",
            "IL",
            "IA",
            "KS",
            "LA",
            "MN",
            "MS",
            "MO",
            "NE",
            "ND",
            "OK",
            "SD",
            "TN",
            "TX",
            "WI",
        ),
    ),
    ("America/Denver", ("CO", "ID", "MT", "NM", "UT", "WY")),
    ("America/Phoenix", ("AZ",)),
    ("America/Los_Angeles", ("CA", "NV", "OR", "WA")),
    ("America/Anchorage", ("AK",)),
    ("Pacific/Honolulu", ("HI",)),
)
# Multi-zone countries without a known state: the zone most of their parcels are scanned in.
COUNTRY_DEFAULTS: Final[tuple[tuple[str, str, str], ...]] = (
    ("USA", "US", "America/New_York"),
    ("CAN", "CA", "America/Toronto"),
    ("AUS", "AU", "Australia/Sydney"),
    ("BRA", "BR", "America/Sao_Paulo"),
    ("MEX", "MX", "America/Mexico_City"),
    ("RUS", "RU", "Europe/Moscow"),
)


# English names couriers write in a checkpoint's `country_name` (AfterShip), by alpha-3; a code
# (alpha-2 or alpha-3) there is read as a code.
COUNTRY_NAMES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("CHN", ("CHINA", "PEOPLE'S REPUBLIC OF CHINA", "CHINA MAINLAND")),
    ("HKG", ("HONG KONG", "HONGKONG", "HONG KONG SAR", "HONG KONG, CHINA")),
    ("MAC", ("MACAU", "MACAO")),
    ("TWN", ("TAIWAN",)),
    ("JPN", ("JAPAN",)),
    ("KOR", ("KOREA", "SOUTH KOREA", "REPUBLIC OF KOREA", "KOREA, REPUBLIC OF")),
    ("SGP", ("SINGAPORE",)),
    ("MYS", ("MALAYSIA",)),
    ("THA", ("THAILAND",)),
    ("VNM", ("VIETNAM", "VIET NAM")),
    ("PHL", ("PHILIPPINES",)),
    ("IND", ("INDIA",)),
    ("ARE", ("UNITED ARAB EMIRATES",)),
    ("GBR", ("UNITED KINGDOM", "GREAT BRITAIN", "ENGLAND")),
    ("IRL", ("IRELAND",)),
    ("DEU", ("GERMANY",)),
    ("FRA", ("FRANCE",)),
    ("NLD", ("NETHERLANDS", "THE NETHERLANDS", "HOLLAND")),
    ("BEL", ("BELGIUM",)),
    ("ITA", ("ITALY",)),
    ("ESP", ("SPAIN",)),
    ("POL", ("POLAND",)),
    ("CHE", ("SWITZERLAND",)),
    ("AUT", ("AUSTRIA",)),
    ("SWE", ("SWEDEN",)),
    ("NZL", ("NEW ZEALAND",)),
    ("USA", ("UNITED STATES", "UNITED STATES OF AMERICA")),
    ("CAN", ("CANADA",)),
    ("AUS", ("AUSTRALIA",)),
    ("BRA", ("BRAZIL",)),
    ("MEX", ("MEXICO",)),
    ("RUS", ("RUSSIA", "RUSSIAN FEDERATION")),
)


def _build() -> tuple[dict[str, str], dict[str, str]]:
    countries: dict[str, str] = {}
    for alpha3, alpha2, zone in (*COUNTRY_ZONES, *COUNTRY_DEFAULTS):
        for code in (alpha3, alpha2):
            if code in countries:
                raise AssertionError(f"country {code} listed twice")
            countries[code] = zone
    states: dict[str, str] = {}
    for zone, codes in US_STATE_ZONES:
        for code in codes:
            if code in states:
                raise AssertionError(f"US state {code} listed twice")
            states[code] = zone
    return countries, states


_COUNTRIES, _US_STATES = _build()
US_CODES: Final = frozenset({"USA", "US"})
_NAMES: Final = {name: alpha3 for alpha3, names in COUNTRY_NAMES for name in names}


def zone_for(country: str | None, state: str | None = None) -> ZoneInfo | None:
    """The zone of a location (country code, and the state for the USA), or None when the
    location does not say."""
    key = (country or "").strip().upper()
    if key in US_CODES and state:
        zone = _US_STATES.get(state.strip().upper())
        if zone is not None:
            return ZoneInfo(zone)
    found = _COUNTRIES.get(key)
    return ZoneInfo(found) if found is not None else None


def country_in(text: str | None) -> str | None:
    """The country code a free-text country field gives: a code itself, an English name, or a
    place ending in one ("Port Melbourne (MEL) - AUSTRALIA"); None when it names none we know
    (docs/tracking-apis.md "Event times without an offset")."""
    key = " ".join((text or "").upper().split())
    if not key:
        return None
    for candidate in (key, key.rsplit(" - ", 1)[-1]):
        if candidate in _COUNTRIES:
            return candidate
        if candidate in _NAMES:
            return _NAMES[candidate]
    return None
