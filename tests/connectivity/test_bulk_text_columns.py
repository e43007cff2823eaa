"""Text in columns: the edge test equals its regex, network texts are `ipaddress`'s."""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.bulk_radacct_rules import _EDGE_SPACE, _edge_space
from cpniguard.connectivity.continuity import _network_texts
from cpniguard.connectivity.store.schema import address_key, key_network

_VALUES = st.lists(st.one_of(
    st.text(alphabet="0123456789", max_size=22),
    st.text(alphabet=" \t\r\x0b\x0c\x1c\x1f\x1babc0é€", max_size=6),
    st.text(max_size=8),
), max_size=30)


def _regex(values: pa.Array, pattern: str) -> list[bool]:
    return [bool(v) for v in pc.match_substring_regex(values, pattern).to_pylist()]


@settings(max_examples=300, deadline=None)
@given(_VALUES, st.integers(0, 3))
def test_edge_space_equals_its_regex(texts: list[str], skip: int) -> None:
    # Sliced too: a batch column may start part way into its buffers.
    values = pa.array(["x"] * skip + texts, pa.string()).slice(skip)
    assert _edge_space(values).tolist() == _regex(values, _EDGE_SPACE)


def test_the_edge_test_refuses_nulls() -> None:
    with pytest.raises(ValueError, match="without nulls"):
        _edge_space(pa.array(["1", None], pa.string()))


@st.composite
def networks(draw: st.DrawFn) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if draw(st.booleans()):
        address = draw(st.ip_addresses(v=4))
        return ipaddress.ip_network(f"{address}/{draw(st.integers(0, 32))}", strict=False)
    address = draw(st.ip_addresses(v=6))
    network = ipaddress.ip_network(f"{address}/{draw(st.integers(0, 128))}", strict=False)
    return network if not network.overlaps(ipaddress.ip_network("::ffff:0:0/96")) else (
        ipaddress.ip_network("2001:db8::/32"))


@settings(max_examples=200, deadline=None)
@given(st.lists(networks(), max_size=20))
def test_network_texts_are_the_stored_spelling(found: list[ipaddress.IPv4Network
                                                        | ipaddress.IPv6Network]) -> None:
    keys = [address_key(network) for network in found]
    hi = np.array([k[0] for k in keys], np.uint64)
    lo = np.array([k[1] for k in keys], np.uint64)
    plen = np.array([k[2] for k in keys], np.uint8)
    assert _network_texts(hi, lo, plen) == [str(key_network(*k)) for k in keys]
    assert _network_texts(hi, lo, plen) == [str(n) for n in found]
