"""The push bodies' form decoding (carriers/http.py `parse_form`) reads what the standard
library's `parse_qs` reads, for any fields, Chinese text, backslashes and stray `%` signs
included: the fast path hands every escape to C, and anything it cannot take goes the slow
way."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from carriers.http import parse_form

FIELDS = st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=200), max_size=5)
RAW = st.text(alphabet=st.sampled_from("ab%2F5c\\x+=&中%E4%B8"), max_size=60)


@given(FIELDS)
def test_reads_what_parse_qs_reads(fields: dict[str, str]) -> None:
    body = urlencode(fields).encode()
    expected = parse_qs(body.decode(), keep_blank_values=True)
    assert parse_form(body) == expected


@given(RAW)
def test_stray_percent_signs_and_backslashes_stay_as_they_are(text: str) -> None:
    body = text.encode()
    try:
        expected = parse_qs(body.decode(), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return  # escapes that are not UTF-8: both refuse (the push is malformed)
    assert parse_form(body) == expected


def test_a_kuaidi100_push_with_chinese_text() -> None:
    param = '{"context":"【杭州市】快件已揽收 \\\\ 100%"}'
    body = f"param={quote(param)}&sign=ABC".encode()
    assert parse_form(body) == {"param": [param], "sign": ["ABC"]}
