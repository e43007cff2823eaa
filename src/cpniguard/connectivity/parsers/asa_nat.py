"""Cisco ASA (and Firepower Threat Defense) translation syslog, messages 305011 and 305012.

Formats from "Cisco Secure Firewall ASA Series Syslog Messages", messages 302003-319004
(cisco.com/c/en/us/td/docs/security/asa/syslog/b_syslog.html, chapter "Syslog Messages
302003 to 342008"; Japanese edition cisco.com/c/ja_jp/td/docs/security/asa/syslog/b_syslog/
syslog-messages-302003-to-342008.html):

    %ASA-6-305011: Built {dynamic|static} {TCP|UDP|ICMP} translation from
        interface_name[(acl-name)]:real_address/real_port[(idfw_user)]
        to interface_name:mapped_address/mapped_port
    %ASA-6-305012: Teardown {dynamic|static} {TCP|UDP|ICMP} translation from ... duration time

The "from" side is the real (inside) socket, the "to" side the mapped (public) one; each
translation is one port, so port_first = port_last (the ICMP identifier for ICMP).
- 305011 -> NAT_ALLOCATE at the syslog time; 305012 -> NAT_RELEASE at the syslog time with
  `starts` = at - duration (whole seconds, as the ASA counts them).
- The header may be BSD syslog (`Mmm dd HH:MM:SS host`, no year: pass `year=` or the file's
  modification time is used), the ASA's own `Mmm dd yyyy HH:MM:SS:` (`logging timestamp`), or
  RFC 3339. Local times are in `source.zone`; the fall-back hour is flagged, never resolved.
- `device` is the host (or `logging device-id`) before the message, "" when there is none.
- A real address written as a name (the ASA `names` feature, see the Elastic integration
  issue elastic/integrations#3942) cannot be attributed and is quarantined.

Quarantine rule: a line with a `%ASA-n-305011:` / `305012:` (or `%FTD-`) tag that does not
parse exactly is quarantined; every other line (connections, denies, ...) is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import timedelta

from cpniguard.connectivity.events import Event, EventKind, Evidence, Quarantined, Source
from cpniguard.connectivity.parsers.freeradius_common import BadValue
from cpniguard.connectivity.parsers.nat_common import YearGuess, header, host, parse_tagged, port

_TAG = re.compile(r"%(?:ASA|FTD|PIX)-\d-(305011|305012): ")
_IFC = r"[^\s:()/]+"
_BODY = re.compile(
    rf"(?P<verb>Built|Teardown) (?P<type>dynamic|static) (?P<proto>TCP|UDP|ICMP) translation "
    rf"from (?P<iif>{_IFC})(?:\((?P<acl>[^()]*)\))?:(?P<real>[^\s/()]+)/(?P<rport>\d+)"
    rf"(?: ?\((?P<user>[^()]*)\))? to (?P<oif>{_IFC}):(?P<mapped>[^\s/()]+)/(?P<mport>\d+)"
    r"(?: duration (?P<h>\d+):(?P<m>[0-5]\d):(?P<s>[0-5]\d))?\s*")


def parse(lines: Iterable[str], source: Source, *, year: int | None = None
          ) -> Iterator[Event | Quarantined]:
    """Events from ASA 305011/305012 lines; `year` is the year of the first yearless line."""
    return parse_tagged(lines, source, year, _TAG, _event)


def _event(line: str, tag: re.Match[str], source: Source, number: int,
           years: YearGuess) -> Event:
    stamp = header(line[:tag.start()], source, years)
    body = _BODY.fullmatch(line, tag.end())
    if body is None:
        raise BadValue("not a `Built|Teardown ... translation from ... to ...` message")
    built = tag[1] == "305011"
    if built != (body["verb"] == "Built") or built == (body["h"] is not None):
        raise BadValue(f"message {tag[1]} with the wrong wording")
    try:
        inside = host(body["real"])
    except BadValue:
        raise BadValue(f"real address {body['real']!r} is a name, not an IP "
                       "(turn off `names` for logging)") from None
    public = host(body["mapped"])
    mapped = port(body["mport"])
    extra: list[tuple[str, str]] = [("asa-message", tag[1]), *stamp.extra,
                                    ("translation-type", body["type"]),
                                    ("inside-interface", body["iif"]),
                                    ("outside-interface", body["oif"]),
                                    ("real-port", str(port(body["rport"])))]
    if body["acl"]:
        extra.append(("acl", body["acl"]))
    if body["user"]:
        extra.append(("idfw-user", body["user"]))
    starts = None
    if not built:
        duration = timedelta(hours=int(body["h"]), minutes=int(body["m"]), seconds=int(body["s"]))
        starts = stamp.at - duration
        extra.append(("duration", f"{body['h']}:{body['m']}:{body['s']}"))
    device = stamp.rest.replace(":", " ").split()
    return Event(kind=EventKind.NAT_ALLOCATE if built else EventKind.NAT_RELEASE, at=stamp.at,
                 evidence=Evidence(source.path, number), address=public, inside_address=inside,
                 port_first=mapped, port_last=mapped, protocol=body["proto"].lower(),
                 starts=starts, device=device[0] if device else "", flags=stamp.flags,
                 extra=tuple(extra))
