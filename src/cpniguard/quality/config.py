"""The settings of the quality tools, each read from the file whose owner decides it.

- Address pools and the outage thresholds are facts about the network: they live in
  `$CPNIGUARD_HOME/network.toml`, next to the CGNAT pools attribution already reads:

      cgnat_public_pools = ["192.0.2.64/26"]      # unchanged, read by attribution

      [pools.nas1-public]
      networks = ["198.51.100.0/25"]
      device = "192.0.2.1"                        # optional: the NAS or server handing it out
      warn_at = 0.9                               # optional: share of capacity that warns

      [outages]
      min_sessions = 20      # at least this many sessions of one device (or POP) end...
      min_share = 0.3        # ...and at least this share of its active sessions...
      window_seconds = 120   # ...within this window

      [pops.north]           # a point of presence and the NASes / servers / CGNAT boxes in it
      devices = ["192.0.2.1", "192.0.2.2"]

      [access.olt-north-1]   # an access device (OLT, DSLAM, CMTS), known by the circuit ids
      circuit_prefix = ["olt-north-1/"]  # (DHCP option 82) of the lines behind it

  and, at the top of the file (before any table), `access_pattern = "^(?P<access>[^/]+)/"`:
  the access device named by the circuit id itself, where no declared prefix matches.

  A file without these tables means what it meant before: no pools, default thresholds, each
  device its own group, no access devices.
- The k of k-anonymity is a privacy promise: it lives in the policy file, as
  `[service_quality] k_anonymity = 5`, and is read from the policy in force.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class Topology:
    """Which POP each device is in, and which access device each circuit id is behind."""

    pops: dict[str, str] = field(default_factory=dict)            # device -> POP
    access_prefixes: tuple[tuple[str, str], ...] = ()              # (prefix, access device)
    access_pattern: str = ""                                       # RE2, group `access`

    def pop_of(self, device: str) -> str:
        # Backward compatible: a device no POP claims is a group of its own.
        return self.pops.get(device, device)

    @property
    def has_pops(self) -> bool:
        return bool(self.pops)

    @property
    def has_access(self) -> bool:
        return bool(self.access_prefixes or self.access_pattern)

    def access_of(self, circuit_id: str) -> str:
        """The access device behind a circuit id, or "" (one value; `groups` does columns)."""
        for prefix, name in self.access_prefixes:
            if circuit_id.startswith(prefix):
                return name
        if self.access_pattern and circuit_id:
            found = re.search(self.access_pattern, circuit_id)
            if found is not None and found.groupdict().get("access"):
                return str(found.group("access"))
        return ""


def _strings(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BadNetworkConfig(f"{where} must be a list of non-empty strings")
    return [str(v) for v in value]


def topology(root: Path | None = None) -> Topology:
    data = _network_file(root)
    declared, access = data.get("pops", {}), data.get("access", {})
    if not isinstance(declared, dict) or not isinstance(access, dict):
        raise BadNetworkConfig("[pops] and [access] must be tables")
    pops: dict[str, str] = {}
    for name, entry in sorted(declared.items()):
        if not isinstance(entry, dict):
            raise BadNetworkConfig(f"pops.{name} must be a table with devices = [...]")
        for device in _strings(entry.get("devices"), f"pops.{name}.devices"):
            if pops.setdefault(device, name) != name:
                raise BadNetworkConfig(f"device {device} is in both pops.{pops[device]} "
                                       f"and pops.{name}")
    prefixes: list[tuple[str, str]] = []
    for name, entry in sorted(access.items()):
        if not isinstance(entry, dict):
            raise BadNetworkConfig(f"access.{name} must be a table with circuit_prefix")
        prefixes += [(p, name) for p in _strings(entry.get("circuit_prefix"),
                                                  f"access.{name}.circuit_prefix")]
    # The longest prefix decides, so "olt-1/10" is not taken for "olt-1/1".
    prefixes.sort(key=lambda item: (-len(item[0]), item[0]))
    pattern = data.get("access_pattern", "")
    if not isinstance(pattern, str):
        raise BadNetworkConfig("access_pattern must be a regular expression")
    if pattern:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise BadNetworkConfig(f"access_pattern: {error}") from None
        if "access" not in compiled.groupindex:
            raise BadNetworkConfig("access_pattern needs a named group (?P<access>...)")
    return Topology(pops, tuple(prefixes), pattern)


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
