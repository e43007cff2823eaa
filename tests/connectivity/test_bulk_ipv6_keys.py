"""IPv6 keys decoded in columns equal the parser's own, value by value, in every spelling."""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.bulk_ipv6_keys import spelled_keys, surely_spelled
from cpniguard.connectivity.bulk_radacct_rules import _key_of, _keys

COLUMNS = ("framedipv6address", "framedipv6prefix", "delegatedipv6prefix")
_U64 = 2**64 - 1


def _group_text(draw: st.DrawFn, group: int) -> str:
    """One group as a NAS might print it: any case, leading zeros up to four digits."""
    digits = f"{group:x}"
    digits = "0" * draw(st.integers(0, 4 - len(digits))) + digits
    return "".join(c.upper() if draw(st.booleans()) else c for c in digits)


@st.composite
def addresses(draw: st.DrawFn) -> int:
    kind = draw(st.sampled_from(["any", "zero-tail", "low", "mapped", "db8"]))
    if kind == "low":  # high 64 bits zero: only `_key_of` may judge these
        return draw(st.integers(0, _U64))
    if kind == "mapped":
        return (0xFFFF << 32) | draw(st.integers(0, 2**32 - 1))
    if kind == "db8":  # a delegated /56 as the benchmark writes it, host bits sometimes set
        return (0x20010DB8 << 96) | (draw(st.integers(0, 2**24 - 1)) << 72) | draw(
            st.sampled_from([0, 1, draw(st.integers(0, 2**72 - 1))]))
    value = draw(st.integers(0, 2**128 - 1))
    if kind == "zero-tail":
        zeros = draw(st.integers(1, 7)) * 16
        value = value >> zeros << zeros
    return value


@st.composite
def spellings(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:  # garbage, IPv4, and near misses
        return draw(st.one_of(
            st.text(alphabet="0123456789abcdefABCDEFg:/.% -", max_size=45),
            st.ip_addresses(v=4).map(str),
            st.sampled_from(["::", "::1", "::/0", "1::/0", "1::/129", "1::/064", "1:::",
                             "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "fe80::1%eth0",
                             "00000::", " 2001:db8::/56", "2001:db8::/56 ", "2001:db8::/",
                             "::ffff:192.0.2.1", "2001:db8::192.0.2.1", "1:2:3:4:5:6:7::",
                             "12345::/16", ":1::/64"]),
        ))
    value = draw(addresses())
    groups = [(value >> (112 - 16 * k)) & 0xFFFF for k in range(8)]
    style = draw(st.sampled_from(["full", "tail", "compressed", "exploded"]))
    if style == "compressed":
        text = str(ipaddress.IPv6Address(value))
        text = text.upper() if draw(st.booleans()) else text
    elif style == "exploded":
        text = ipaddress.IPv6Address(value).exploded
    else:
        kept = 8
        if style == "tail":  # groups, then `::` for the zero groups after them
            while kept > 1 and groups[kept - 1] == 0:
                kept -= 1
            kept = draw(st.integers(kept, 8)) if kept < 8 else 8
            kept = min(kept, 7)
        text = ":".join(_group_text(draw, g) for g in groups[:kept])
        text += "::" if kept < 8 else ""
    suffix = draw(st.sampled_from(["", "length", "128", "odd"]))
    if suffix == "length":
        text += f"/{draw(st.integers(0, 128))}"
    elif suffix == "128":
        text += "/128"
    elif suffix == "odd":
        text += draw(st.sampled_from(["/0128", "/129", "/", "/64/64", "/-1"]))
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(spellings(), min_size=1, max_size=40), st.sampled_from(COLUMNS))
def test_column_keys_equal_the_parsers(texts: list[str], name: str) -> None:
    valid, hi, lo, plen = _keys(pa.array(texts, pa.string()), name, np.ones(len(texts), bool))
    for k, text in enumerate(texts):
        expected = _key_of(text, name)
        got = (int(hi[k]), int(lo[k]), int(plen[k])) if valid[k] else None
        assert got == expected, (text, name)


@settings(max_examples=300, deadline=None)
@given(st.lists(spellings(), min_size=1, max_size=40), st.sampled_from(COLUMNS))
def test_plain_spellings_are_decided_in_columns(texts: list[str], name: str) -> None:
    """Every surely spelled value is decided here unless its network's high half is zero."""
    host = name == "framedipv6address"
    values = pa.array(texts, pa.string())
    sure = surely_spelled(values, host=host)
    picked = [t for t, s in zip(texts, sure, strict=True) if s]
    decided, hi, lo, plen = spelled_keys(pa.array(picked, pa.string()), host=host)
    for k, text in enumerate(picked):
        expected = _key_of(text, name)
        # The shape is one `ipaddress` always reads; only the store refuses (IPv4-mapped space,
        # high half zero), and those are never decided here.
        assert decided[k] == (expected is not None and expected[0] != 0), text
        if decided[k]:
            assert (int(hi[k]), int(lo[k]), int(plen[k])) == expected, text
        elif expected is None:
            assert ipaddress.ip_network(text, strict=False).network_address.packed[:8] == bytes(8)


def test_examples_of_each_spelling() -> None:
    texts = ["2001:DB8:0:0:0:0:0:1", "2001:db8:0153:0700::/56", "2001:db8:153:7ff::/56",
             "2001:db8::/0", "ffff:1:2:3:4:5:6::/128", "2001:db8:0:0:0:0:0:1/127", "2001:db8::"]
    values = pa.array(texts, pa.string())
    assert surely_spelled(values, host=False).all()
    decided, hi, lo, plen = spelled_keys(values, host=False)
    assert decided.tolist() == [True, True, True, False, True, True, True]
    for k, text in enumerate(texts):
        if decided[k]:
            assert (int(hi[k]), int(lo[k]), int(plen[k])) == _key_of(text, "framedipv6prefix")
    assert (int(hi[2]), int(lo[2]), int(plen[2])) == (0x20010DB801530700, 0, 56)
    # A host column refuses a shorter length: the regex leaves it to the parser's wording.
    assert surely_spelled(pa.array(["2001:db8::/64", "2001:db8::/128", "2001:db8::"]),
                          host=True).tolist() == [False, True, True]
