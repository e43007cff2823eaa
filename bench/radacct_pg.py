"""The PostgreSQL baseline of bench/log_store.py: FreeRADIUS's radacct table, queried as ISPs do.

The table has the columns and types of FreeRADIUS v3.2.x `raddb/mods-config/sql/main/postgresql/
schema.sql` in their order (the list is tests/fixtures/connectivity/radacct-columns-postgresql.csv).
Loaded as an ISP would bulk-load an archive: COPY into the bare table, then one btree on
(framedipaddress, acctstarttime), then VACUUM ANALYZE. The schema's primary key, UNIQUE
(acctuniqueid) and its three session-maintenance indexes are left out: they serve the live
RADIUS server, not attribution, and each would slow COPY and add bytes, so leaving them out
only flatters PostgreSQL.

Single lookups use the form DESIGN.md measured fastest: the latest session starting at or before
the instant, its stop checked on that row. Batches are one statement: a LATERAL join over arrays.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

TYPES = {
    "radacctid": "bigint", "acctsessionid": "text NOT NULL", "acctuniqueid": "text NOT NULL",
    "username": "text", "realm": "text", "nasipaddress": "inet NOT NULL", "nasportid": "text",
    "nasporttype": "text", "acctstarttime": "timestamp with time zone",
    "acctupdatetime": "timestamp with time zone", "acctstoptime": "timestamp with time zone",
    "acctinterval": "bigint", "acctsessiontime": "bigint", "acctauthentic": "text",
    "connectinfo_start": "text", "connectinfo_stop": "text", "acctinputoctets": "bigint",
    "acctoutputoctets": "bigint", "calledstationid": "text", "callingstationid": "text",
    "acctterminatecause": "text", "servicetype": "text", "framedprotocol": "text",
    "framedipaddress": "inet", "framedipv6address": "inet", "framedipv6prefix": "inet",
    "framedinterfaceid": "text", "delegatedipv6prefix": "inet", "class": "text",
}
SINGLE = (
    "SELECT radacctid, username, callingstationid, nasipaddress, acctuniqueid, acctstarttime,"
    " acctstoptime FROM radacct WHERE framedipaddress = %s AND acctstarttime <= %s"
    " ORDER BY acctstarttime DESC LIMIT 1"
)
BATCH = (
    "SELECT q.n, r.radacctid, r.username, r.callingstationid, r.acctstarttime, r.acctstoptime"
    " FROM unnest(%s::inet[], %s::timestamptz[]) WITH ORDINALITY AS q(ip, at, n)"
    " LEFT JOIN LATERAL (SELECT radacctid, username, callingstationid, acctstarttime,"
    " acctstoptime FROM radacct WHERE framedipaddress = q.ip AND acctstarttime <= q.at"
    " ORDER BY acctstarttime DESC LIMIT 1) r ON true"
)


class Radacct:
    def __init__(self, url: str) -> None:
        self.db = psycopg.connect(url, autocommit=True)

    def settings(self) -> dict[str, str]:
        found = {}
        for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes",
                     "shared_buffers", "maintenance_work_mem"):
            row = self.db.execute(f"SHOW {name}").fetchone()
            found[name] = str(row[0]) if row else "?"
        return found

    def create(self) -> None:
        columns = ",\n".join(f"  {name} {kind}" for name, kind in TYPES.items())
        self.db.execute("DROP TABLE IF EXISTS radacct")
        self.db.execute(f"CREATE TABLE radacct (\n{columns}\n)")
        # The default 64 MB makes the index build spill to disk many times at 100M rows; a
        # DBA building it once would raise it, so PostgreSQL gets that too.
        self.db.execute("SET maintenance_work_mem = '1GB'")

    def copy(self, path: Path) -> float:
        """Server-side COPY of one export file; seconds (the commit waits for the disk)."""
        began = time.perf_counter()
        self.db.execute(f"COPY radacct FROM '{path}' WITH (FORMAT csv, HEADER true)")
        return time.perf_counter() - began

    def index(self) -> tuple[float, float]:
        """(seconds to build the attribution index, seconds of VACUUM ANALYZE)."""
        began = time.perf_counter()
        self.db.execute("CREATE INDEX radacct_ip_start ON radacct (framedipaddress, "
                        "acctstarttime)")
        built = time.perf_counter() - began
        began = time.perf_counter()
        self.db.execute("VACUUM ANALYZE radacct")
        return built, time.perf_counter() - began

    def sizes(self) -> dict[str, int]:
        row = self.db.execute(
            "SELECT pg_relation_size('radacct'), pg_total_relation_size('radacct'),"
            " pg_relation_size('radacct_ip_start')").fetchone()
        assert row is not None
        return {"table": int(row[0]), "total": int(row[1]), "index": int(row[2])}

    def single(self, ip: str, at: datetime) -> tuple[Any, ...] | None:
        """The session holding `ip` at `at`, or None: the stop is checked on the latest row."""
        row = self.db.execute(SINGLE, (ip, at), prepare=True).fetchone()
        if row is None or (row[6] is not None and row[6] <= at):
            return None
        return tuple(row)

    def batch(self, ips: list[str], ats: list[datetime]) -> int:
        """Hits among the queries, answered in one statement."""
        hits = 0
        for row in self.db.execute(BATCH, (ips, ats)).fetchall():
            if row[1] is not None and (row[5] is None or row[5] > ats[row[0] - 1]):
                hits += 1
        return hits

    def close(self) -> None:
        self.db.close()
