"""Session folding over columns: `sessions.sessions_of`'s rules without a Python loop per row.

`sessions_of` reads every row as a dict and walks each (device, session id) group in Python;
that is the reference, and it stays, for one subscriber's view and as the oracle the tests
compare with. A network report over a day of a large ISP folds millions of rows, so this
module applies the same rules with numpy:

- the group key of a row (source, device, session id; or, without a usable session id,
  source, device, holder, address, first port) becomes one integer per column, and one
  lexsort orders the rows by group, then start, then row number, as the loop does;
- "joins the current session" needs the running maximum of the ends before a row inside its
  group: the ends are replaced by their rank, shifted by group number times the number of
  ranks, so one `maximum.accumulate` over the whole array restarts at each group;
- the row that last raised that maximum says whether the session is open at that point and
  how the session ended, exactly as the loop's `elif end >= current.finish` keeps it.

The result is one array per session attribute (`Folded`), sorted by (start, device, holder)
like `sessions_of`'s list, with the rows of each session for evidence and capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from cpniguard.connectivity.events import Flag
from cpniguard.connectivity.store.schema import OPEN_END, key_network
from cpniguard.quality.sessions import LOST_AFTER, EndKind, Session

KINDS = (EndKind.STOP, EndKind.NAS_RESTART, EndKind.NO_STOP, EndKind.OPEN)
STOP, NAS_RESTART, NO_STOP, OPEN = range(4)
_IDENTITIES = ("username", "mac", "client_id", "duid", "remote_id", "circuit_id")
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Folded:
    """Sessions as columns; `*_names[code]` turns a code back into its text."""

    source: Ints
    device: Ints
    holder: Ints
    circuit: Ints              # circuit id of the session's first row (access device)
    start: Ints                # µs UTC
    finish: Ints
    kind: npt.NDArray[np.int8]  # index into KINDS
    row_order: Ints            # table rows, session after session
    row_offsets: Ints          # rows of session i: row_order[row_offsets[i]:row_offsets[i+1]]
    row_session: Ints          # session of each table row
    source_names: list[str]
    device_names: list[str]
    holder_names: list[str]
    circuit_names: list[str]

    def __len__(self) -> int:
        return len(self.start)

    def rows(self, session: int) -> Ints:
        return self.row_order[self.row_offsets[session]:self.row_offsets[session + 1]]


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[Ints, list[str]]:
    # A null (no circuit id, no device) is the empty name, never the first name seen: a line
    # without a circuit id must not be counted behind the first access device.
    column = pc.fill_null(column, "")
    encoded = pc.dictionary_encode(column).combine_chunks() if isinstance(
        column, pa.ChunkedArray) else pc.dictionary_encode(column)
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, names


def holder_column(table: pa.Table) -> pa.Array:
    """`sessions.holder_of` for every row."""
    session_id = table.column("session_id")
    holder = pc.fill_null(pa.nulls(len(table), pa.string()), "")
    for name in reversed(_IDENTITIES):
        values = table.column(name)
        named = pc.binary_join_element_wise(pa.scalar(f"{name}="), values, "")
        holder = pc.if_else(pc.not_equal(pc.fill_null(values, ""), ""), named, holder)
    nat = pc.or_(pc.ends_with(table.column("source"), "nat"),
                 pc.starts_with(pc.fill_null(session_id, ""), "inside="))
    return pc.if_else(nat, pc.fill_null(session_id, ""), holder)


def _segmented_max(values: Ints, group: Ints) -> Ints:
    """Running maximum of `values` that restarts where `group` (non-decreasing) changes."""
    ranks, inverse = np.unique(values, return_inverse=True)
    shifted = group * len(ranks) + inverse
    return ranks[np.maximum.accumulate(shifted) - group * len(ranks)]


def _flag_mask(flags: pa.ChunkedArray, flag: str) -> npt.NDArray[np.bool_]:
    codes, names = _codes(flags)
    has = np.array([flag in name.split(",") for name in names] or [False], dtype=bool)
    return has[codes]


def fold(table: pa.Table) -> Folded:
    """The sessions of a `scan` table (SESSION_COLUMNS at least)."""
    n = len(table)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Folded(empty, empty, empty, empty, empty, empty, np.zeros(0, dtype=np.int8),
                      empty, np.zeros(1, dtype=np.int64), empty, [], [], [], [])
    source, source_names = _codes(table.column("source"))
    # dhcpd.leases does not name its server: the source stands for it (sessions.device_of).
    device_text = pc.if_else(pc.equal(pc.fill_null(table.column("device"), ""), ""),
                             table.column("source"), table.column("device"))
    device, device_names = _codes(device_text)
    holder, holder_names = _codes(holder_column(table))
    circuit, circuit_names = _codes(table.column("circuit_id"))
    sid_text = pc.fill_null(table.column("session_id"), "")
    sid, _ = _codes(sid_text)
    usable = np.asarray(pc.and_(pc.not_equal(sid_text, ""),
                                pc.invert(pc.starts_with(sid_text, "inside="))))
    start = table.column("original_start").to_numpy().astype(np.int64)
    raw_end = table.column("original_end").to_numpy().astype(np.int64)
    is_open = raw_end == OPEN_END
    seen = table.column("last_seen")
    last_seen = np.where(seen.is_null().to_numpy(zero_copy_only=False), start,
                         seen.fill_null(0).to_numpy())
    end = np.where(is_open, last_seen, raw_end)
    no_start = _flag_mask(table.column("flags"), str(Flag.NO_START))
    restart = _flag_mask(table.column("flags"), str(Flag.CLOSED_BY_NAS_RESTART))
    zero = np.zeros(n, dtype=np.int64)
    hi = table.column("hi").to_numpy().view(np.int64)
    lo = table.column("lo").to_numpy().view(np.int64)
    plen_port = (table.column("plen").to_numpy().astype(np.int64) * 65537
                 + table.column("port_first").to_numpy().astype(np.int64) + 1)
    # The group key in five integers (fewer sort passes): source and device together; the
    # session id, or past its codes the holder; then address and prefix length with port.
    keys = [source * len(device_names) + device, np.where(usable, sid, n + holder),
            np.where(usable, zero, hi), np.where(usable, zero, lo),
            np.where(usable, zero, plen_port)]
    row = np.arange(n, dtype=np.int64)
    order = np.lexsort((start, *reversed(keys)))  # stable: equal starts keep row order
    changed = np.zeros(n, dtype=bool)
    changed[0] = True
    for key in keys:
        ordered = key[order]
        changed[1:] |= ordered[1:] != ordered[:-1]
    group = np.cumsum(changed) - 1
    s_start, s_end, s_open = start[order], end[order], is_open[order]
    running = _segmented_max(s_end, group)
    previous = np.concatenate([[0], running[:-1]]).astype(np.int64)
    setter = changed | (s_end >= previous)
    last_setter = np.maximum.accumulate(np.where(setter, row, -1))
    previous_setter = np.concatenate([[0], last_setter[:-1]]).astype(np.int64)
    joins = (s_start <= previous) | (s_open[previous_setter] & no_start[order])
    new = changed | ~joins
    first = np.flatnonzero(new)
    ends_at = np.concatenate([first[1:], [n]]).astype(np.int64) - 1
    decider = last_setter[ends_at]
    kind = np.where(s_open[decider], NO_STOP,
                    np.where(restart[order][decider], NAS_RESTART, STOP)).astype(np.int8)
    s_device = device[order][first]
    finish = running[ends_at]
    newest = np.full(len(device_names), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(newest, device, end)
    still_up = (kind == NO_STOP) & (newest[s_device] - finish < LOST_AFTER)
    kind[still_up] = OPEN
    finish = np.where(still_up, np.maximum(finish, newest[s_device]), finish)
    s_holder = holder[order][first]
    # sessions_of sorts by (start, device, holder), ties in the order groups first appear.
    group_first_row = np.minimum.reduceat(order, np.flatnonzero(changed))[group]
    by_session = np.lexsort((first, group_first_row[first], _rank(s_holder, holder_names),
                             _rank(s_device, device_names), s_start[first]))
    offsets = np.concatenate([first, [n]]).astype(np.int64)
    renumber = np.empty(len(first), dtype=np.int64)
    renumber[by_session] = np.arange(len(first), dtype=np.int64)
    row_session = np.empty(n, dtype=np.int64)
    row_session[order] = renumber[np.cumsum(new) - 1]
    counts = np.diff(offsets)[by_session]
    row_order = _gather(order, offsets, by_session)
    return Folded(
        source[order][first][by_session], s_device[by_session], s_holder[by_session],
        circuit[order][first][by_session], s_start[first][by_session], finish[by_session],
        kind[by_session], row_order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        row_session, source_names, device_names, holder_names, circuit_names)


def _gather(order: Ints, offsets: Ints, sessions: Ints) -> Ints:
    """The rows of `sessions`, in that order, each session's rows kept in fold order."""
    if not len(sessions):
        return np.zeros(0, dtype=np.int64)
    lengths = np.diff(offsets)[sessions]
    starts = offsets[:-1][sessions]
    within = np.arange(lengths.sum(), dtype=np.int64) - np.repeat(
        np.cumsum(lengths) - lengths, lengths)
    picked: Ints = order[np.repeat(starts, lengths) + within]
    return picked


def _rank(codes: Ints, names: list[str]) -> Ints:
    # Codes follow first appearance; sorting needs the names' own order.
    if not names:
        return codes
    return np.argsort(np.argsort(np.array(names, dtype=object), kind="stable"))[codes]


def to_sessions(folded: Folded, table: pa.Table,
                wanted: npt.NDArray[np.int64] | None = None) -> list[Session]:
    """`Session` objects (as `sessions_of` makes them) for some or all folded sessions."""
    numbers = np.arange(len(folded)) if wanted is None else wanted
    columns = table.select(["hi", "lo", "plen", "port_first", "port_last", "flags"])
    found = []
    for number in numbers.tolist():
        rows = folded.rows(number).tolist()
        picked = columns.take(pa.array(rows, pa.int64())).to_pylist()
        addresses: list[str] = []
        flags: set[str] = set()
        ports = None
        for record in picked:
            address = str(key_network(record["hi"], record["lo"], record["plen"]))
            if address not in addresses:
                addresses.append(address)
            flags |= {f for f in str(record["flags"]).split(",") if f}
            if record["port_first"] >= 0:
                ports = (int(record["port_first"]), int(record["port_last"]))
        found.append(Session(
            folded.source_names[folded.source[number]],
            folded.device_names[folded.device[number]],
            folded.holder_names[folded.holder[number]], int(folded.start[number]),
            int(folded.finish[number]), KINDS[folded.kind[number]], addresses, flags, rows,
            ports))
    return found
