"""The ClickHouse backend's SQL: DDL and the statements the store runs, nothing else.

Every value reaches the server as a typed query parameter (`{name:Type}`), bound by the
server; only the database, table and cluster names, which come from configuration and are
checked against `_IDENTIFIER`, are written into the text. The same text runs on a server and,
in CI, on chDB (the same engine in-process).

Layout: one row per stored interval piece (split at UTC midnight like the embedded store),
PARTITION BY (source, day) so retention drops whole partitions, ORDER BY (hi, lo, plen,
start_us) so a probe for a masked address key is a primary-key range. A side table keeps the
distinct prefix lengths of each (source, day): a lookup probes each present length once
instead of all 129.
"""

# ruff: noqa: S608 - only names checked by `identifier` are interpolated; values are bound
from __future__ import annotations

import re
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# (column, ClickHouse type, StoredInterval field); the order is the insert and select order.
INTERVAL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("hi", "UInt64", "hi"),
    ("lo", "UInt64", "lo"),
    ("plen", "UInt8", "plen"),
    ("start_us", "Int64", "start"),
    ("end_us", "Int64", "end"),
    ("original_start_us", "Int64", "original_start"),
    ("original_end_us", "Int64", "original_end"),
    ("kind", "LowCardinality(String)", "source"),
    ("last_seen_us", "Nullable(Int64)", "last_seen"),
    ("port_first", "Int32", "port_first"),
    ("port_last", "Int32", "port_last"),
    ("username", "String", "username"),
    ("mac", "String", "mac"),
    ("client_id", "String", "client_id"),
    ("duid", "String", "duid"),
    ("circuit_id", "String", "circuit_id"),
    ("remote_id", "String", "remote_id"),
    ("device", "LowCardinality(String)", "device"),
    ("session_id", "String", "session_id"),
    ("flags", "LowCardinality(String)", "flags"),
    ("evidence", "Array(Tuple(file String, line Int64, sha256 String))", "evidence"),
    *(
        # schema.END_COLUMNS: added later, so `create` also adds them to an older table.
        ("terminate_cause", "LowCardinality(Nullable(String))", "terminate_cause"),
        ("octets_in", "Nullable(Int64)", "octets_in"),
        ("octets_out", "Nullable(Int64)", "octets_out"),
    ),
)
ADDED_COLUMNS = INTERVAL_COLUMNS[-3:]
# Where a row is kept: the store's source name, its UTC day, the write batch (`part`) that
# stored it and its position in that batch (`row`), numbered as the embedded store numbers them.
PLACE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "LowCardinality(String)"),
    ("day", "Date"),
    ("part", "UInt32"),
    ("row", "UInt32"),
)
ROW_COLUMNS = tuple(name for name, _ in PLACE_COLUMNS) + tuple(c for c, _, _ in INTERVAL_COLUMNS)

# One key per (query, UTC day its window touches, prefix length stored that day): the query
# number, where to look (source, day, masked address key, prefix length), the window and the
# port (-2 when the query gave none; -1 already means "all ports" in a row).
KEYS_TYPE = "Array(Tuple(UInt32, String, Date, UInt64, UInt64, UInt8, Int64, Int64, Int32))"
NO_PORT = -2
_PORT_TEST = ("({port} = -2 OR port_first = -1"
              " OR (port_first <= {port} AND {port} <= port_last))")


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"bad ClickHouse identifier {name!r}")
    return f"`{name}`"


@dataclass(frozen=True, slots=True)
class Statements:
    """The SQL for one store: `database.table`, on a single server or across `cluster`."""

    database: str
    table: str
    cluster: str | None = None

    def __post_init__(self) -> None:
        for name in (self.database, self.table, self.cluster or "c"):
            identifier(name)

    def _name(self, suffix: str = "") -> str:
        return f"{identifier(self.database)}.{identifier(self.table + suffix)}"

    @property
    def rows(self) -> str:
        """The table queries and inserts go to (the Distributed one on a cluster)."""
        return self._name()

    @property
    def prefixes(self) -> str:
        return self._name("_prefixes")

    @property
    def _local_rows(self) -> str:
        # On a cluster, data lives in per-shard replicated tables; mutations go there.
        return self._name("_local") if self.cluster else self._name()

    @property
    def _local_prefixes(self) -> str:
        return self._name("_prefixes_local") if self.cluster else self._name("_prefixes")

    @property
    def _on_cluster(self) -> str:
        return f" ON CLUSTER {identifier(self.cluster)}" if self.cluster else ""

    def create(self) -> list[str]:
        """Idempotent DDL, in order."""
        columns = ",\n  ".join(
            [f"{name} {kind}" for name, kind in PLACE_COLUMNS]
            + [f"{name} {kind}" for name, kind, _ in INTERVAL_COLUMNS])
        engine = "ReplicatedMergeTree" if self.cluster else "MergeTree"
        statements = [
            f"CREATE DATABASE IF NOT EXISTS {identifier(self.database)}{self._on_cluster}",
            f"CREATE TABLE IF NOT EXISTS {self._local_rows}{self._on_cluster} (\n  {columns}\n)"
            f" ENGINE = {engine} PARTITION BY (source, day) ORDER BY (hi, lo, plen, start_us)",
            f"CREATE TABLE IF NOT EXISTS {self._local_prefixes}{self._on_cluster} ("
            "source LowCardinality(String), day Date, plen UInt8)"
            f" ENGINE = {engine.replace('MergeTree', 'ReplacingMergeTree')}"
            " PARTITION BY (source, day) ORDER BY (source, day, plen)",
        ]
        if self.cluster:
            cluster = identifier(self.cluster)
            # Sharded by address key, so all rows of one network sit on one shard.
            statements += [
                f"CREATE TABLE IF NOT EXISTS {self.rows}{self._on_cluster} AS {self._local_rows}"
                f" ENGINE = Distributed({cluster}, {identifier(self.database)},"
                f" {identifier(self.table + '_local')}, cityHash64(hi, lo))",
                f"CREATE TABLE IF NOT EXISTS {self.prefixes}{self._on_cluster}"
                f" AS {self._local_prefixes} ENGINE = Distributed({cluster},"
                f" {identifier(self.database)}, {identifier(self.table + '_prefixes_local')},"
                " cityHash64(source, day))",
            ]
        # A table created before a column existed gets it here; its old rows read as NULL.
        tables = (self._local_rows, self.rows) if self.cluster else (self.rows,)
        statements += [f"ALTER TABLE {table}{self._on_cluster} ADD COLUMN IF NOT EXISTS"
                       f" {name} {kind}" for table in tables for name, kind, _ in ADDED_COLUMNS]
        return statements

    def last_parts(self) -> str:
        return (f"SELECT day, max(part) AS part FROM {self.rows}"
                " WHERE source = {source:String} AND day IN {days:Array(Date)} GROUP BY day")

    def prefix_lengths(self) -> str:
        return (f"SELECT DISTINCT source, day, plen FROM {self.prefixes}"
                " WHERE day IN {days:Array(Date)}")

    def lookup_one(self) -> str:
        """Rows matching one query: its keys select by primary key, the rest is a filter."""
        return (f"SELECT {', '.join(ROW_COLUMNS)} FROM {self.rows}"
                " WHERE (source, day, hi, lo, plen) IN {keys:Array(Tuple(String, Date, UInt64,"
                " UInt64, UInt8))} AND start_us <= {high:Int64} AND end_us > {low:Int64} AND "
                + _PORT_TEST.format(port="{port:Int32}"))

    def lookup_many(self) -> str:
        """Rows matching any of many queries, each tagged with the query number.

        The IN prunes by partition and primary key before the join applies each query's own
        window and port. GLOBAL makes a Distributed query ship the key set to the shards once.
        """
        columns = ", ".join(f"t.{name} AS {name}" for name in ROW_COLUMNS)
        keys = f"(SELECT arrayJoin({{keys:{KEYS_TYPE}}}) AS k)"
        port = _PORT_TEST.replace("port_", "t.port_").format(port="q.port")
        return f"""
SELECT q.query AS query, {columns}
FROM (SELECT * FROM {self.rows} WHERE (source, day, hi, lo, plen) GLOBAL IN
      (SELECT k.2, k.3, k.4, k.5, k.6 FROM {keys})) AS t
GLOBAL INNER JOIN (SELECT k.1 AS query, k.2 AS source, k.3 AS day, k.4 AS hi, k.5 AS lo,
                   k.6 AS plen, k.7 AS low, k.8 AS high, k.9 AS port FROM {keys}) AS q
  ON t.source = q.source AND t.day = q.day AND t.hi = q.hi AND t.lo = q.lo AND t.plen = q.plen
WHERE t.start_us <= q.high AND t.end_us > q.low AND {port}
"""

    def parts_from_file(self) -> str:
        """(day, part) pairs of a source on some days whose row 0 names the file's SHA-256."""
        return (f"SELECT DISTINCT day, part FROM {self.rows}"
                " WHERE source = {source:String} AND day IN {days:Array(Date)} AND row = 0"
                " AND arrayExists(e -> tupleElement(e, 'sha256') = {sha256:String}, evidence)"
                " ORDER BY day, part")

    def day_rows(self) -> str:
        return (f"SELECT {', '.join(ROW_COLUMNS)} FROM {self.rows}"
                " WHERE source = {source:String} AND day = {day:Date} ORDER BY part, row")

    def partitions(self, one_source: bool) -> str:
        where = " WHERE source = {source:String}" if one_source else ""
        return (f"SELECT source, day, part, count() AS rows FROM {self.rows}{where}"
                " GROUP BY source, day, part ORDER BY source, day, part")

    def parts_of_day(self) -> str:
        return (f"SELECT DISTINCT part FROM {self.rows}"
                " WHERE source = {source:String} AND day = {day:Date} ORDER BY part")

    def drop_day(self) -> list[str]:
        # A whole (source, day) is one partition: dropped as files, no rewrite.
        return [f"ALTER TABLE {table}{self._on_cluster} DROP PARTITION ({{source:String}},"
                " {day:Date})" for table in (self._local_rows, self._local_prefixes)]

    def delete_part(self) -> str:
        # A mutation rewrites the affected data parts without these rows: physically gone,
        # unlike a lightweight DELETE, which only masks them until a merge.
        return (f"ALTER TABLE {self._local_rows}{self._on_cluster} DELETE WHERE"
                " source = {source:String} AND day = {day:Date} AND part = {part:UInt32}")

    def purge(self) -> str:
        """One mutation: the refused rows go; the kept rows of a part that lost some move to
        a new part number and are numbered again from 0, as the embedded store rewrites them.
        The assignments read the old values, so `row`'s lookup key uses the old `part`."""
        return (f"ALTER TABLE {self._local_rows}{self._on_cluster}"
                " DELETE WHERE source = {source:String} AND day = {day:Date}"
                " AND (part, row) IN {gone:Array(Tuple(UInt32, UInt32))},"
                " UPDATE part = transform(part, {old_parts:Array(UInt32)},"
                " {new_parts:Array(UInt32)}, part),"
                " row = transform(bitOr(bitShiftLeft(toUInt64(part), 32), row),"
                " {old_places:Array(UInt64)}, {new_rows:Array(UInt32)}, row)"
                " WHERE source = {source:String} AND day = {day:Date}"
                " AND has({old_parts:Array(UInt32)}, part)")
