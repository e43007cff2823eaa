"""Facts about the ISP's own network that the logs cannot tell: which public ranges are
CGNAT pools.

A CGNAT public address is shared by many subscribers at every instant. When the port-block
logs for an instant are missing, the store alone would answer `no_match`, which a reader
could take for "nobody had it". Declaring the pools makes such a question `port_required`
(with or without logs) and, with a port but no block on record, `no_match` for that port.

The pools are read from `$CPNIGUARD_HOME/network.toml`:

    cgnat_public_pools = ["192.0.2.64/26", "192.0.2.128/25"]

or from CPNIGUARD_CGNAT_POOLS (comma-separated), which wins when set.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable
from pathlib import Path

from cpniguard.connectivity.store.schema import Address
from cpniguard.home import home

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CONFIG_NAME = "network.toml"


class BadNetworkConfig(ValueError):
    pass


def _parse(values: list[object], where: str) -> tuple[Network, ...]:
    pools = []
    for value in values:
        try:
            pools.append(ipaddress.ip_network(str(value).strip(), strict=True))
        except ValueError as error:
            raise BadNetworkConfig(f"{where}: cgnat_public_pools: {error}") from None
    return tuple(pools)


def cgnat_pools(root: Path | None = None) -> tuple[Network, ...]:
    text = os.environ.get("CPNIGUARD_CGNAT_POOLS")
    if text is not None:
        return _parse([v for v in text.split(",") if v.strip()], "CPNIGUARD_CGNAT_POOLS")
    path = (root or home()) / CONFIG_NAME
    if not path.is_file():
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise BadNetworkConfig(f"{path}: {error}") from None
    values = data.get("cgnat_public_pools", [])
    if not isinstance(values, list):
        raise BadNetworkConfig(f"{path}: cgnat_public_pools must be a list of networks")
    return _parse(values, str(path))


def cgnat_test(pools: tuple[Network, ...]) -> Callable[[Address], bool] | None:
    if not pools:
        return None
    return lambda address: any(address.version == pool.version and address in pool
                               for pool in pools)


def write_config(pools: list[str], root: Path | None = None) -> Path:
    """Write network.toml (the demo declares its pools this way)."""
    _parse(list(pools), "pools")
    path = (root or home()) / CONFIG_NAME
    lines = ["# Public ranges shared by CGNAT: an address here is never attributed without",
             "# its port.", "cgnat_public_pools = [" + ", ".join(f'"{p}"' for p in pools)
             + "]", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
