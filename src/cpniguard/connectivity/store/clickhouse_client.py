"""How the ClickHouse store reaches an engine: a server over HTTP, or chDB in this process.

Both run through clickhouse-connect's client: the server one over HTTP, the in-process one
over its chDB backend. So the statement text, the binding of every `{name:Type}` parameter and
the Arrow encoding of inserts and results are the same code in production and in CI; only the
transport differs. chDB allows one data directory per process: a second path is refused.

URLs (`parse_url`, then `connect`):
  clickhouse://user@host:8123/database?table=intervals&cluster=logs    (https: clickhouses://)
  chdb:///var/lib/cpniguard/chdb?database=cpniguard&table=intervals
A password may be in the URL, but is better given as CPNIGUARD_CLICKHOUSE_PASSWORD so it stays
out of process listings and shell history.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

import clickhouse_connect
import pyarrow as pa  # type: ignore[import-untyped]
from clickhouse_connect.driver.client import Client

PASSWORD_VARIABLE = "CPNIGUARD_CLICKHOUSE_PASSWORD"  # noqa: S105 - a variable name, not a secret
_SCHEMES = {"clickhouse": "http", "clickhouses": "https"}


class Executor(Protocol):
    """What the store needs from an engine: statements, Arrow results, Arrow inserts."""

    def command(self, sql: str, params: Mapping[str, Any] | None = None,
                settings: Mapping[str, Any] | None = None) -> None: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table: ...

    def insert(self, database: str, table: str, data: pa.Table,
               settings: Mapping[str, Any] | None = None) -> None: ...

    def close(self) -> None: ...


class ConnectExecutor:
    """An `Executor` over a clickhouse-connect client (HTTP or chDB-backed)."""

    def __init__(self, client: Client, location: str) -> None:
        self.client = client
        self.location = location  # where the engine is, for messages; never holds a password

    def command(self, sql: str, params: Mapping[str, Any] | None = None,
                settings: Mapping[str, Any] | None = None) -> None:
        self.client.command(sql, parameters=dict(params or {}), settings=dict(settings or {}))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self.client.query_arrow(sql, parameters=dict(params or {}), use_strings=True)

    def insert(self, database: str, table: str, data: pa.Table,
               settings: Mapping[str, Any] | None = None) -> None:
        self.client.insert_arrow(table, data, database=database, settings=dict(settings or {}))

    def close(self) -> None:
        self.client.close()


def server_executor(host: str, *, port: int = 8123, username: str = "default",
                    password: str = "", secure: bool = False,
                    settings: Mapping[str, Any] | None = None) -> ConnectExecutor:
    client = clickhouse_connect.get_client(
        host=host, port=port, username=username, password=password,
        interface="https" if secure else "http", settings=dict(settings or {}),
        # Parameters go in the POST body: a 10k-query batch would overflow a URL.
        form_encode_query_params=True,
    )
    return ConnectExecutor(client, f"{'https' if secure else 'http'}://{host}:{port}")


def chdb_executor(path: str) -> ConnectExecutor:
    """chDB in this process, its data under `path` (one path per process)."""
    return ConnectExecutor(clickhouse_connect.get_client(interface="chdb", path=path),
                           f"chdb://{path}")


@dataclass(frozen=True, slots=True)
class EngineURL:
    """A parsed log store URL; `password` is never printed (repr=False)."""

    engine: str                   # "server" or "chdb"
    database: str
    table: str
    cluster: str | None = None
    host: str = ""
    port: int = 8123
    username: str = "default"
    password: str = field(default="", repr=False)
    secure: bool = False
    path: str = ""                # chDB data directory


def is_engine_url(text: str) -> bool:
    return urlparse(text).scheme in (*_SCHEMES, "chdb")


def parse_url(url: str) -> EngineURL:
    parsed = urlparse(url)
    options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    unknown = set(options) - {"database", "table", "cluster"}
    if unknown:
        raise ValueError(f"unknown log store option(s) {', '.join(sorted(unknown))}")
    table = options.get("table", "intervals")
    cluster = options.get("cluster") or None
    if parsed.scheme == "chdb":
        if parsed.netloc or not parsed.path.startswith("/"):
            raise ValueError("a chDB store is chdb:///absolute/path")
        return EngineURL("chdb", options.get("database", "cpniguard"), table, cluster,
                         path=unquote(parsed.path))
    if parsed.scheme not in _SCHEMES or not parsed.hostname:
        raise ValueError(f"not a ClickHouse URL: {parsed.scheme or '(no scheme)'}://...")
    return EngineURL(
        "server", unquote(parsed.path.strip("/")) or options.get("database", "cpniguard"),
        table, cluster, host=parsed.hostname, port=parsed.port or 8123,
        username=unquote(parsed.username or "default"),
        password=unquote(parsed.password or "") or os.environ.get(PASSWORD_VARIABLE, ""),
        secure=_SCHEMES[parsed.scheme] == "https")


def connect(url: EngineURL) -> ConnectExecutor:
    if url.engine == "chdb":
        return chdb_executor(url.path)
    return server_executor(
        url.host, port=url.port, username=url.username, password=url.password,
        secure=url.secure,
        # Inserts into a Distributed table return once every shard has the rows.
        settings={"distributed_foreground_insert": 1} if url.cluster else None)
