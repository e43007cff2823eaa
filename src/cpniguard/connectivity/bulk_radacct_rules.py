"""The per-row rules of `parsers.radacct_csv` and `intervals_radius._row`, over columns.

Each test below mirrors one rule of those modules for the plain rows it accepts; a row that any
test cannot decide with certainty is marked for the per-line path instead of being guessed at.
When a rule changes there, it must change here too: tests/connectivity/test_bulk_radacct.py
compares both paths row for row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from cpniguard.connectivity.bulk_ipv6_keys import spelled_keys, surely_spelled
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
# timestamptz text with an offset, as COPY writes it; other spellings (no offset, a T, Z, a
# comma, nanoseconds, an offset with seconds) are read by the parser itself.
_TIME = (r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3])"
         r":[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?$")
# A counter the int64 column surely holds (18 digits); longer ones are judged row by row.
_DIGITS = r"^[0-9]{0,18}$"
# str.strip() removes these ASCII characters; a value with one at either end is left to it.
# `_edge_space` tests this on the bytes (the regex, its reference, cost several times more).
_EDGE_SPACE = r"^[\t\n\x0b\x0c\r\x1c-\x1f ]|[\t\n\x0b\x0c\r\x1c-\x1f ]$"
_STRIPPED = np.zeros(256, bool)
_STRIPPED[[ord(c) for c in "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "]] = True
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
    return _np(pc.string_is_ascii(values)) & ~_edge_space(values)


def _edge_space(values: pa.Array) -> npt.NDArray[np.bool_]:
    """`_EDGE_SPACE` over a string column without nulls: its first or last byte is one."""
    if values.null_count or values.type != pa.string():
        raise ValueError("a string column without nulls is expected")
    offsets = np.frombuffer(values.buffers()[1], np.int32)[
        values.offset:values.offset + len(values) + 1]
    filled = offsets[1:] > offsets[:-1]
    if not filled.any():
        return filled
    data = np.frombuffer(values.buffers()[2], np.uint8)
    edged: npt.NDArray[np.bool_] = filled & (
        _STRIPPED[data[np.where(filled, offsets[:-1], 0)]]
        | _STRIPPED[data[np.where(filled, offsets[1:] - 1, 0)]])
    return edged


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
    """(valid, hi, lo, plen) of an IPv6 column for the `wanted` rows.

    Plain spellings are decoded in columns (`bulk_ipv6_keys`); the rest go through `_key_of`,
    each distinct value judged once (a subscriber's prefix repeats for months).
    """
    count = len(values)
    valid = np.ones(count, dtype=bool)
    hi, lo = np.zeros(count, np.uint64), np.zeros(count, np.uint64)
    plen = np.zeros(count, np.uint8)
    rows = np.flatnonzero(wanted)
    if not len(rows):
        return valid, hi, lo, plen
    host = name in _HOST_COLUMNS
    wanted_values = values.take(pa.array(rows))
    spelled = np.flatnonzero(surely_spelled(wanted_values, host=host))
    decided, h, low, length = spelled_keys(wanted_values.take(pa.array(spelled)), host=host)
    done = rows[spelled[decided]]
    hi[done], lo[done], plen[done] = h[decided], low[decided], length[decided]
    left = np.ones(len(rows), dtype=bool)
    left[spelled[decided]] = False
    rows = rows[left]
    if not len(rows):
        return valid, hi, lo, plen
    encoded = pc.dictionary_encode(wanted_values.filter(pa.array(left)))
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
    counted = {name: _np(pc.match_substring_regex(column(name), _DIGITS))
               for name in ("acctinputoctets", "acctoutputoctets")}
    for mask in counted.values():
        ok &= mask
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
    # Rows of `keep` again, once per further address, with that address's key.
    again = [np.flatnonzero(mask & ok) for mask, *_ in extra]
    rows = np.concatenate([keep, *again])
    # Text columns are derived over the whole batch, then taken once at `rows`; not at all
    # when that is every row once (an IPv4-only batch without a row for the per-line path).
    taken = pa.array(rows)
    every_row = bool(ok.all()) and len(rows) == count

    def at_rows(values: pa.Array) -> pa.Array:
        return values if every_row else values.take(taken)

    # Each `is_v4` value matches `_IPV4` (four octets, maybe "/32"): four parts exactly.
    dotted = pc.replace_substring(pc.if_else(pa.array(is_v4), framed, _NO_IPV4), "/32", "")
    octets = np.asarray(pc.list_flatten(pc.split_pattern(dotted, ".")).cast(pa.uint64())
                        .to_numpy(), np.uint64).reshape(-1, 4)
    ipv4 = np.zeros(count, np.uint64)
    for shift, part in zip((24, 16, 8, 0), range(4), strict=True):
        ipv4 |= octets[:, part] << np.uint64(shift)
    lo = np.where(is_v4, np.uint64(0xFFFF << 32) | ipv4, lo)
    mac = pc.if_else(pa.array(is_mac), pc.replace_substring(pc.utf8_lower(calling), "-", ":"),
                     "")
    unique = column("acctuniqueid")
    session = pc.if_else(pc.not_equal(unique, ""), unique, column("acctsessionid"))
    flags = (np.where(has_start, 0, NO_START) | np.where(has_stop, 0, NO_STOP)).astype(np.int8)
    hi_out = np.concatenate([hi[keep], *(h[r] for (_, h, _, _), r in zip(extra, again,
                                                                        strict=True))])
    lo_out = np.concatenate([lo[keep], *(low[r] for (_, _, low, _), r in zip(extra, again,
                                                                            strict=True))])
    plen_out = np.concatenate([plen[keep], *(n[r] for (_, _, _, n), r in zip(extra, again,
                                                                            strict=True))])
    first_address = np.arange(len(rows)) < len(keep)  # the session's counters go there only
    cause = pc.if_else(pa.array(has_stop), column("acctterminatecause"), "")
    return Decoded(
        line=numbers[rows], start=begin[rows],
        end=np.where(has_stop[rows], stop[rows], OPEN_END).astype(np.int64),
        seen=np.where(has_stop, stop, at)[rows], flags=flags[rows], hi=hi_out, lo=lo_out,
        plen=plen_out.astype(np.uint8),
        username=at_rows(column("username")), mac=at_rows(mac), device=at_rows(device),
        session_id=at_rows(session),
        terminate_cause=at_rows(pc.if_else(pc.equal(cause, ""), pa.nulls(count, pa.string()),
                                           cause)),
        octets_in=_counters(column("acctinputoctets"), counted["acctinputoctets"],
                            first_address, at_rows, rows),
        octets_out=_counters(column("acctoutputoctets"), counted["acctoutputoctets"],
                             first_address, at_rows, rows),
        fallback=numbers[~ok])


def _counters(values: pa.Array, counted: npt.NDArray[np.bool_],
              first_address: npt.NDArray[np.bool_], at_rows: Callable[[pa.Array], pa.Array],
              rows: npt.NDArray[np.int64]) -> pa.Array:
    """radacct_csv._counter over a column: "" is unknown; only `counted` values (`_DIGITS`)
    are converted, the others are on rows that are not decoded here."""
    known = _np(pc.not_equal(values, ""))
    numbers = at_rows(pc.cast(pc.if_else(pa.array(known & counted), values, "0"), pa.int64()))
    return pc.if_else(pa.array(known[rows] & first_address), numbers,
                      pa.nulls(len(numbers), pa.int64()))
