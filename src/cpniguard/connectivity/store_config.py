"""Which log store a command uses: one rule, so the same operator gets the same store everywhere.

The store is, in order: the command's `--store` (a directory or a URL), else the environment
variable CPNIGUARD_LOGSTORE, else the embedded store under `$CPNIGUARD_HOME/logstore`. A URL
(clickhouse://, clickhouses://, chdb:///) names the ClickHouse backend, anything else a
directory of the embedded store. `logs ingest`, `retention run`, attribution (CLI, API, web)
and the legal desk all ask here.

A store is named in records and messages by `display_name`: the resolved directory, or the URL
without its password (user@host:port/database and the table), so a name can be saved on an
ingest record and compared on a re-run without ever holding a secret.
"""

from __future__ import annotations

import os
from pathlib import Path

from cpniguard.connectivity.question import Usage
from cpniguard.connectivity.store import ENGINE_SCHEMES, LogStore, open_store

VARIABLE = "CPNIGUARD_LOGSTORE"


class EmbeddedOnly(Usage):
    """A tool that reads the embedded store's files was pointed at ClickHouse."""


def configured_location(explicit: str | Path | None = None) -> str:
    """The setting in force, as given (a directory or a URL), not yet opened."""
    if explicit is not None and str(explicit) != "":
        return str(explicit)
    configured = os.environ.get(VARIABLE)
    if configured:
        return configured
    from cpniguard.home import home

    return str(home() / "logstore")


def is_engine(location: str) -> bool:
    return location.partition("://")[0] in ENGINE_SCHEMES


def display_name(location: str | Path) -> str:
    """The store's name with no secret in it; raises ValueError for a malformed URL."""
    text = str(location)
    if not is_engine(text):
        return str(Path(text).resolve())
    from cpniguard.connectivity.store.clickhouse import display_url
    from cpniguard.connectivity.store.clickhouse_client import parse_url

    return display_url(parse_url(text))


def configured_store(explicit: str | Path | None = None) -> LogStore:
    """The store the setting names, opened (a ClickHouse store connects and creates its tables).

    Raises Usage for a URL that cannot be parsed or an engine that cannot be reached, so every
    command reports it the same way (exit 2), naming the store without its password.
    """
    location = configured_location(explicit)
    refused: tuple[type[Exception], ...] = (ValueError,)
    if is_engine(location):
        from clickhouse_connect.driver.exceptions import Error

        refused = (ValueError, Error)
    try:
        return open_store(location)
    except refused as error:
        raise Usage(f"log store {_safe(location)}: {error}") from None


def store_name(store: LogStore) -> str:
    """`display_name` of an opened store: its root, or the URL it was opened from."""
    from cpniguard.connectivity.store import EmbeddedLogStore

    if isinstance(store, EmbeddedLogStore):
        return str(store.root.resolve())
    name = getattr(store, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{type(store).__name__} does not say where it keeps its rows")
    return name


def embedded_root(explicit: str | Path | None = None, *, tool: str = "this command") -> Path:
    """The embedded store's directory, for tools that read its files directly.

    Raises EmbeddedOnly when the configured store is ClickHouse: those tools would otherwise
    read an empty directory and report a quiet network as if it were true.
    """
    location = configured_location(explicit)
    if is_engine(location):
        raise EmbeddedOnly(
            f"{tool}: only an embedded log store's files can be read, and the configured log "
            f"store is ClickHouse ({_safe(location)}); set {VARIABLE} to an embedded store's "
            "directory to use it")
    return Path(location)


def _safe(location: str) -> str:
    try:
        return display_name(location)
    except ValueError:
        return location.partition("://")[0] + "://..."
