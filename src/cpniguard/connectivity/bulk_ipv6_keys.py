"""Store keys of IPv6 text in columns, for the spellings whose meaning is certain.

`bulk_radacct_rules._key_of` judges one value at a time through `ipaddress` (tens of µs each);
a radacct export carries a delegated prefix on most dual-stack rows, so that was most of the
column path's time. Here the spellings `ipaddress` always reads the same way are decoded with
pyarrow string kernels and a hex lookup table: eight full groups, or one to seven groups
followed by `::`, with an optional prefix length without leading zeros. Everything else, and
every value whose network has zero high 64 bits (it may touch ::ffff:0:0/96, which the store
refuses for IPv6, or be a /0), is left to `_key_of`, so no refusal is reworded here.
tests/connectivity/test_bulk_ipv6_keys.py compares both, value by value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

_HEX4 = "[0-9a-fA-F]{1,4}"
_LENGTH = "([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])"
IPV6_SURE = rf"^(({_HEX4}:){{7}}{_HEX4}|({_HEX4}:){{1,7}}:)(/{_LENGTH})?$"
# A host column (an inet holding one address) takes no length or the full one only.
IPV6_HOST_SURE = rf"^(({_HEX4}:){{7}}{_HEX4}|({_HEX4}:){{1,7}}:)(/128)?$"
_PARTS = r"^(?P<address>[^/]*)(?:/(?P<length>[0-9]+))?$"
_GROUPS = 8
_FULL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)

# Hex digit values by byte; only bytes the shape regexes admit ever index it.
_DIGIT = np.zeros(256, np.uint64)
for _value, _char in enumerate("0123456789abcdef"):
    _DIGIT[ord(_char)] = _DIGIT[ord(_char.upper())] = _value

Keys = tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.uint64],
             npt.NDArray[np.uint8]]


def surely_spelled(values: pa.Array, *, host: bool) -> npt.NDArray[np.bool_]:
    """Which values have a spelling `spelled_keys` decodes exactly."""
    mask = pc.match_substring_regex(values, IPV6_HOST_SURE if host else IPV6_SURE)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _mask(bits: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """A 64-bit netmask of `bits` (0..64) leading ones; numpy shifts by 64 are undefined."""
    clipped = np.clip(bits, 0, 64)
    shifted = _FULL << np.clip(64 - clipped, 1, 63).astype(np.uint64)
    return np.where(clipped == 0, np.uint64(0), np.where(clipped == 64, _FULL, shifted))


def _groups(addresses: pa.Array) -> npt.NDArray[np.uint64]:
    """(n, 8) group values: groups from the left, the `::` tail (and its empty splits) zero."""
    split = pc.split_pattern(addresses, ":")
    padded = pc.ascii_lpad(pc.list_flatten(split), 4, "0")  # "" (around `::`) becomes 0000
    # Every padded group is exactly four bytes, so group k's digits start at offsets[k].
    offsets = np.frombuffer(padded.buffers()[1], np.int32)[padded.offset:padded.offset
                                                           + len(padded)]
    data = np.frombuffer(padded.buffers()[2], np.uint8)
    digits = _DIGIT[data[offsets[:, None] + np.arange(4)]]
    value = (digits[:, 0] << np.uint64(12)) | (digits[:, 1] << np.uint64(8)) | (
        digits[:, 2] << np.uint64(4)) | digits[:, 3]
    parent = np.asarray(pc.list_parent_indices(split).to_numpy(), np.int64)
    starts = np.asarray(split.offsets.to_numpy(), np.int64)
    position = np.arange(len(parent)) - (starts[parent] - starts[0])
    inside = position < _GROUPS  # `a:b:c:d:e:f:g::` splits into nine; the ninth is empty
    table = np.zeros((len(addresses), _GROUPS), np.uint64)
    table[parent[inside], position[inside]] = value[inside]
    return table


def spelled_keys(values: pa.Array, *, host: bool) -> Keys:
    """(decided, hi, lo, plen) for values that all pass `surely_spelled(values, host=host)`.

    As `_key_of`: a host column, or a value without a length, is one address (/128); otherwise
    the host bits past the length are cleared, as `ip_network(strict=False)` does. Values not
    `decided` must go through `_key_of`.
    """
    count = len(values)
    if not count:
        empty = np.zeros(0, np.uint64)
        return np.zeros(0, bool), empty, empty.copy(), np.zeros(0, np.uint8)
    parts = pc.extract_regex(values, _PARTS)
    table = _groups(parts.field("address"))
    shift = np.array([48, 32, 16, 0], np.uint64)
    hi = np.bitwise_or.reduce(table[:, :4] << shift, axis=1)
    lo = np.bitwise_or.reduce(table[:, 4:] << shift, axis=1)
    written = parts.field("length")
    if host:
        plen = np.full(count, 128, np.int64)
    else:
        plen = np.asarray(pc.cast(pc.if_else(pc.equal(written, ""), "128", written),
                                  pa.int64()).to_numpy(), np.int64)
        hi &= _mask(plen)
        lo &= _mask(plen - 64)
    return hi != 0, hi, lo, plen.astype(np.uint8)
