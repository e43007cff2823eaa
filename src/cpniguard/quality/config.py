"""The settings of the quality tools, each read from the file whose owner decides it.

- Address pools and the outage thresholds are facts about the network: they live in
  `$CPNIGUARD_HOME/network.toml`, next to the CGNAT pools attribution already reads:

      cgnat_public_pools = ["192.0.2.64/26"]      # unchanged, read by attribution

      [pools.nas1-public]
      networks = ["198.51.100.0/25"]
      device = "192.0.2.1"                        # optional: the NAS or server handing it out
      warn_at = 0.9                               # optional: share of capacity that warns

      [outages]
      min_sessions = 20      # at least this many sessions of one device end...
      min_share = 0.3        # ...and at least this share of the device's active sessions...
      window_seconds = 120   # ...within this window

  A file without these tables means what it meant before: no pools, default thresholds.
- The k of k-anonymity is a privacy promise: it lives in the policy file, as
  `[service_quality] k_anonymity = 5`, and is read from the policy in force.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpniguard.connectivity.network import CONFIG_NAME, BadNetworkConfig, Network
from cpniguard.home import home
from cpniguard.policy import current_policy
from cpniguard.policy.loader import default_policy_text

DEFAULT_K = 5
DEFAULT_WARN_AT = 0.9


@dataclass(frozen=True, slots=True)
class Pool:
    name: str
    networks: tuple[Network, ...]
    device: str = ""
    warn_at: float = DEFAULT_WARN_AT

    @property
    def capacity(self) -> int:
        # Network and broadcast addresses of an IPv4 range are never handed out.
        return sum(n.num_addresses - (2 if n.version == 4 and n.prefixlen < 31 else 0)
                   for n in self.networks)


@dataclass(frozen=True, slots=True)
class OutageRule:
    min_sessions: int = 20
    min_share: float = 0.3
    window_seconds: int = 120


def _network_file(root: Path | None) -> dict[str, Any]:
    path = (root or home()) / CONFIG_NAME
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise BadNetworkConfig(f"{path}: {error}") from None


def pools(root: Path | None = None) -> tuple[Pool, ...]:
    declared = _network_file(root).get("pools", {})
    if not isinstance(declared, dict):
        raise BadNetworkConfig("[pools] must be a table of pools")
    found = []
    for name, entry in sorted(declared.items()):
        where = f"pools.{name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("networks"), list):
            raise BadNetworkConfig(f"{where}: networks must be a list of networks")
        try:
            networks = tuple(ipaddress.ip_network(str(n).strip(), strict=True)
                             for n in entry["networks"])
        except ValueError as error:
            raise BadNetworkConfig(f"{where}: {error}") from None
        warn_at = entry.get("warn_at", DEFAULT_WARN_AT)
        if not isinstance(warn_at, int | float) or not 0 < warn_at <= 1:
            raise BadNetworkConfig(f"{where}: warn_at must be a share between 0 and 1")
        found.append(Pool(name, networks, str(entry.get("device", "")), float(warn_at)))
    return tuple(found)


def outage_rule(root: Path | None = None) -> OutageRule:
    entry = _network_file(root).get("outages", {})
    if not isinstance(entry, dict):
        raise BadNetworkConfig("[outages] must be a table")
    default = OutageRule()
    sessions = entry.get("min_sessions", default.min_sessions)
    share = entry.get("min_share", default.min_share)
    window = entry.get("window_seconds", default.window_seconds)
    if not isinstance(sessions, int) or sessions < 2:
        raise BadNetworkConfig("outages.min_sessions must be a whole number, at least 2")
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        raise BadNetworkConfig("outages.min_share must be a share between 0 and 1")
    if not isinstance(window, int) or not 1 <= window <= 3600:
        raise BadNetworkConfig("outages.window_seconds must be between 1 and 3600")
    return OutageRule(sessions, float(share), window)


def k_anonymity() -> int:
    """The policy's k: aggregates covering fewer subscribers are not shown."""
    source = current_policy().source
    text = default_policy_text() if source.startswith("<") else Path(source).read_text()
    entry = tomllib.loads(text).get("service_quality", {})
    value = entry.get("k_anonymity", DEFAULT_K) if isinstance(entry, dict) else DEFAULT_K
    if not isinstance(value, int) or isinstance(value, bool) or value < 2:
        raise ValueError("service_quality.k_anonymity in the policy must be a whole number >= 2")
    return value


def write_pools(entries: dict[str, tuple[list[str], str]], root: Path | None = None) -> Path:
    """Append [pools.*] tables to network.toml, keeping what is there (the demo uses it)."""
    path = (root or home()) / CONFIG_NAME
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = [text.rstrip("\n"), ""] if text else []
    for name, (networks, device) in entries.items():
        lines += [f"[pools.{name}]",
                  "networks = [" + ", ".join(f'"{n}"' for n in networks) + "]"]
        if device:
            lines.append(f'device = "{device}"')
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    pools(root)  # refuse to leave a file nobody can read
    return path
