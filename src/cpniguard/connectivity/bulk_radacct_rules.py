"""The per-row rules of `parsers.radacct_csv` and `intervals_radius._row`, over columns.

Each test below mirrors one rule of those modules for the plain rows it accepts; a row that any
test cannot decide with certainty is marked for the per-line path instead of being guessed at.
When a rule changes there, it must change here too: tests/connectivity/test_bulk_radacct.py
compares both paths row for row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from cpniguard.connectivity.parsers.freeradius_common import parse_prefix
from cpniguard.connectivity.parsers.radacct_csv import _HOST_COLUMNS, _inet_host
from cpniguard.connectivity.store.schema import OPEN_END, address_key

TIME_COLUMNS = ("acctstarttime", "acctupdatetime", "acctstoptime")
ADDRESS_COLUMNS = ("framedipaddress", "framedipv6address", "framedipv6prefix",
                   "delegatedipv6prefix")
NO_START, NO_STOP = 1, 2

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# An IPv4 host as `ipaddress` accepts it (no leading zeros), with the /32 inet may print.
_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(/32)?$"
_IPV4_PARTS = r"^(?P<a>\d+)\.(?P<b>\d+)\.(?P<c>\d+)\.(?P<d>\d+)"
# timestamptz text with an offset, as COPY writes it; other spellings (no offset, a T, Z, a
# comma, nanoseconds, an offset with seconds) are read by the parser itself.
_TIME = (r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3])"
         r":[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?$")
# A counter the int64 column surely holds (18 digits); longer ones are judged row by row.
_DIGITS = r"^[0-9]{0,18}$"
# str.strip() removes these ASCII characters; a value with one at either end is left to it.
_EDGE_SPACE = r"^[\t\n\x0b\x0c\r\x1c-\x1f ]|[\t\n\x0b\x0c\r\x1c-\x1f ]$"
_MAC_COLON = r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"
_MAC_DASH = r"^[0-9a-fA-F]{2}(-[0-9a-fA-F]{2}){5}$"
_MAC_DOTTED = r"[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}"
_EPOCH_TEXT = "1970-01-01 00:00:00+00"
_NO_IPV4 = "0.0.0.0"  # noqa: S104 (a placeholder value, never a listening address)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One batch's rows decoded in columns; `fallback` holds the line numbers of the others."""

    line: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    seen: npt.NDArray[np.int64]
    flags: npt.NDArray[np.int8]
    hi: npt.NDArray[np.uint64]
    lo: npt.NDArray[np.uint64]
    plen: npt.NDArray[np.uint8]
    username: pa.Array
    mac: pa.Array
    device: pa.Array
    session_id: pa.Array
    terminate_cause: pa.Array             # null unless the row has a stop and a cause
    octets_in: pa.Array                   # int64, null where unknown; on a row's first address
    octets_out: pa.Array
    fallback: npt.NDArray[np.int64]


def _np(mask: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _plain_text(values: pa.Array) -> npt.NDArray[np.bool_]:
    """Values `take()` returns unchanged: ASCII, nothing for strip() to remove."""
    ascii_ok = _np(pc.string_is_ascii(values))
    return ascii_ok & ~_np(pc.match_substring_regex(values, _EDGE_SPACE))


# IPv6 spellings `ipaddress` always accepts: full groups, or groups ending in `::`; a prefix
# length without leading zeros. Anything else is judged by the parser's own functions.
_HEX4 = "[0-9a-fA-F]{1,4}"
_LENGTH = "([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])"
_IPV6_SURE = rf"^(({_HEX4}:){{7}}{_HEX4}|({_HEX4}:){{1,7}}:)(/{_LENGTH})?$"
_KEYS: dict[tuple[str, str], tuple[int, int, int] | None] = {}
_KEYS_LIMIT = 1 << 20


def _key_of(text: str, name: str) -> tuple[int, int, int] | None:
    """The store key `radacct_csv._address` + `from_interval` give `text` in column `name`;
    None if the parser refuses it (or the store would: IPv4-mapped space).
    """
    raw = text.strip()
    try:
        if name in _HOST_COLUMNS or "/" not in raw:
            network = _inet_host(raw, name)
        else:
            network, _ = parse_prefix(raw)
        return address_key(network)
    except ValueError:  # BadValue included
        return None


def _keys(values: pa.Array, name: str, wanted: npt.NDArray[np.bool_]
          ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.uint64],
                     npt.NDArray[np.uint8]]:
    """(valid, hi, lo, plen) of an IPv6 column for the `wanted` rows, each distinct value
    judged once (a subscriber's prefix repeats for months)."""
    count = len(values)
    valid = np.ones(count, dtype=bool)
    hi, lo = np.zeros(count, np.uint64), np.zeros(count, np.uint64)
    plen = np.zeros(count, np.uint8)
    rows = np.flatnonzero(wanted)
    if not len(rows):
        return valid, hi, lo, plen
    encoded = pc.dictionary_encode(values.take(pa.array(rows)))
    table = []
    for text in encoded.dictionary.to_pylist():
        key = _KEYS.get((name, text))
        if key is None and (name, text) not in _KEYS:
            if len(_KEYS) > _KEYS_LIMIT:
                _KEYS.clear()
            key = _KEYS[(name, text)] = _key_of(text, name)
        table.append(key or (0, 0, 255))
    found = np.array(table, dtype=np.uint64).reshape(-1, 3)[encoded.indices.to_numpy()]
    valid[rows] = found[:, 2] != 255
    hi[rows], lo[rows], plen[rows] = found[:, 0], found[:, 1], found[:, 2].astype(np.uint8)
    return valid, hi, lo, plen


def _times(values: pa.Array, ok: npt.NDArray[np.bool_]
           ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(microseconds UTC, present) for one time column; rows it cannot read leave `ok`."""
    present = _np(pc.not_equal(values, ""))
    shaped = _np(pc.match_substring_regex(values, _TIME))
    ok &= shaped | ~present
    usable = present & shaped
    filled = pc.if_else(pa.array(usable), values, _EPOCH_TEXT)
    try:
        micros = pc.cast(filled, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
    except pa.ArrowInvalid:
        # An impossible date (30 February): the parser words that refusal, so the batch goes
        # to it row by row rather than being second-guessed here.
        ok[:] = False
        return np.zeros(len(values), np.int64), present
    return np.asarray(micros, np.int64), present


def decode_batch(columns: dict[str, pa.Array], numbers: npt.NDArray[np.int64]) -> Decoded:
    count = len(numbers)
    empty = pa.array([""] * count, pa.string()) if count else pa.array([], pa.string())

    def column(name: str) -> pa.Array:
        return columns.get(name, empty)

    ok = np.ones(count, dtype=bool)
    (start, has_start), (update, has_update), (stop, has_stop) = (
        _times(column(name), ok) for name in TIME_COLUMNS)
    ok &= has_start | has_update | has_stop

    # radacct_csv._address: every present address must parse; the first one is the row's.
    framed = column("framedipaddress")
    is_v4 = _np(pc.match_substring_regex(framed, _IPV4))
    ok &= is_v4 | _np(pc.equal(framed, ""))
    chosen = is_v4.copy()
    # A dual-stack row holds every address it carries: after the first, each present IPv6
    # column gives the row one more interval (as intervals_radius._row does per address).
    extra: list[tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.uint64],
                      npt.NDArray[np.uint8]]] = []
    hi, lo = np.zeros(count, np.uint64), np.zeros(count, np.uint64)
    plen = np.full(count, 128, np.uint8)
    for name in ADDRESS_COLUMNS[1:]:
        values = column(name)
        present = _np(pc.not_equal(values, ""))
        sure = _np(pc.match_substring_regex(values, _IPV6_SURE))
        if name in _HOST_COLUMNS:
            sure &= ~_np(pc.match_substring(values, "/")) | _np(pc.ends_with(values, "/128"))
        first = present & ~chosen
        valid, h, low, length = _keys(values, name, present)
        ok &= valid
        hi, lo, plen = np.where(first, h, hi), np.where(first, low, lo), np.where(first, length,
                                                                                   plen)
        extra.append((present & chosen, h, low, length))
        chosen |= present
    ok &= chosen
    device = column("nasipaddress")
    ok &= _np(pc.equal(device, "")) | _np(pc.match_substring_regex(device, _IPV4))
    for name in ("acctinputoctets", "acctoutputoctets"):
        ok &= _np(pc.match_substring_regex(column(name), _DIGITS))
    for name in ("username", "acctuniqueid", "acctsessionid", "acctterminatecause"):
        ok &= _plain_text(column(name))

    calling = column("callingstationid")
    is_mac = _np(pc.match_substring_regex(calling, _MAC_COLON)) | _np(
        pc.match_substring_regex(calling, _MAC_DASH))
    unsure = ~_plain_text(calling) | _np(pc.match_substring_regex(calling, _MAC_DOTTED))
    ok &= is_mac | ~unsure

    # intervals_radius._row: the start falls back to the row's time, i.e. update, then stop.
    at = np.where(has_update, update, np.where(has_start, start, stop))
    begin = np.where(has_start, start, at)
    ok &= ~(has_stop & (stop < begin))  # "stops before it starts": the builder's own words

    keep = np.flatnonzero(ok)
    take = pa.array(keep)
    v4 = is_v4[keep]
    # Rows whose address is IPv6 get a placeholder here; their key comes from `_keys`.
    octets = pc.extract_regex(pc.if_else(pa.array(v4), framed.take(take), _NO_IPV4),
                              _IPV4_PARTS)
    ipv4 = np.zeros(len(keep), np.uint64)
    for shift, part in zip((24, 16, 8, 0), "abcd", strict=True):
        ipv4 |= np.asarray(octets.field(part).cast(pa.uint64()).to_numpy(), np.uint64) << shift
    lo_kept = np.where(v4, np.uint64(0xFFFF << 32) | ipv4, lo[keep])
    kept_mac = calling.take(take)
    mac = pc.if_else(pa.array(is_mac[keep]),
                     pc.replace_substring(pc.utf8_lower(kept_mac), "-", ":"), "")
    unique = column("acctuniqueid").take(take)
    session = pc.if_else(pc.not_equal(unique, ""), unique, column("acctsessionid").take(take))
    flags = (np.where(has_start[keep], 0, NO_START)
             | np.where(has_stop[keep], 0, NO_STOP)).astype(np.int8)
    # Rows of `keep` again, once per further address, with that address's key.
    again = [np.flatnonzero(mask & ok) for mask, *_ in extra]
    rows = np.concatenate([keep, *again])
    pick = np.searchsorted(keep, rows)  # position of each output row among the kept rows
    hi_out = np.concatenate([hi[keep], *(h[r] for (_, h, _, _), r in zip(extra, again,
                                                                        strict=True))])
    lo_out = np.concatenate([lo_kept, *(low[r] for (_, _, low, _), r in zip(extra, again,
                                                                           strict=True))])
    plen_out = np.concatenate([plen[keep], *(n[r] for (_, _, _, n), r in zip(extra, again,
                                                                            strict=True))])
    chosen_rows = pa.array(pick)
    first_address = np.arange(len(rows)) < len(keep)  # the session's counters go there only
    cause = pc.if_else(pa.array(has_stop[keep]), column("acctterminatecause").take(take), "")
    return Decoded(
        line=numbers[rows], start=begin[rows],
        end=np.where(has_stop[rows], stop[rows], OPEN_END).astype(np.int64),
        seen=np.where(has_stop, stop, at)[rows], flags=flags[pick], hi=hi_out, lo=lo_out,
        plen=plen_out.astype(np.uint8),
        username=column("username").take(take).take(chosen_rows), mac=mac.take(chosen_rows),
        device=device.take(take).take(chosen_rows), session_id=session.take(chosen_rows),
        terminate_cause=pc.if_else(pc.equal(cause, ""), pa.nulls(len(keep), pa.string()),
                                   cause).take(chosen_rows),
        octets_in=_counters(column("acctinputoctets").take(take), first_address, chosen_rows),
        octets_out=_counters(column("acctoutputoctets").take(take), first_address,
                             chosen_rows),
        fallback=numbers[~ok])


def _counters(values: pa.Array, first_address: npt.NDArray[np.bool_], rows: pa.Array
              ) -> pa.Array:
    """radacct_csv._counter over a column already checked against _DIGITS: "" is unknown."""
    known = _np(pc.not_equal(values, ""))
    numbers = pc.cast(pc.if_else(pa.array(known), values, "0"), pa.int64()).take(rows)
    return pc.if_else(pa.array(known[rows.to_numpy()] & first_address), numbers,
                      pa.nulls(len(numbers), pa.int64()))
