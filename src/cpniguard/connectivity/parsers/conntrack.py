"""Linux netfilter `conntrack -E -o timestamp` event output, for a Linux box doing CGNAT.

Format from conntrack(8) (conntrack-tools 1.4.x, manpages.ubuntu.com/manpages/noble/man8/
conntrack.8.html) and the printer in libnetfilter_conntrack: one event per line,

    [1700000000.123456]\t    [NEW] tcp      6 120 SYN_SENT src=100.64.0.5 dst=198.51.100.20 \
sport=40000 dport=443 [UNREPLIED] src=198.51.100.20 dst=203.0.113.9 sport=443 dport=61000

`[epoch.usec]` (UTC, exact), the event type, optionally the layer-3 name and number (with
`-o extended`), the protocol name and number, then for NEW a timeout and (TCP) a state, then
the original tuple and the reply tuple, then flags such as [ASSURED] and `mark=`/`zone=` keys.

- The inside address and port are the original direction's src/sport; the public address and
  port are the reply direction's dst/dport. A mapping is one port: port_first = port_last. For
  ICMP the reply `id=` plays the port's role.
- [NEW] -> NAT_ALLOCATE, [DESTROY] -> NAT_RELEASE. The destination (original dst/dport) is kept
  in extra as evidence; the caller decides whether to retain it.
- A connection whose reply dst/dport equal the original src/sport was not source-translated
  (traffic to the box itself, or not NATed): it maps nothing and yields no event.
- `device` is not in the output; the caller passes the NAT box's name.

Quarantine rule: a line with a [NEW] or [DESTROY] tag that does not parse exactly is
quarantined, including one without the `[epoch]` prefix (conntrack run without `-o timestamp`
cannot be placed in time). Other lines ([UPDATE] events, summaries such as "conntrack v1.4.7
(conntrack-tools): 42 flow events have been shown.") are not NAT records and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import timedelta

from cpniguard.connectivity.events import Event, EventKind, Evidence, Quarantined, Source, numbered
from cpniguard.connectivity.parsers.freeradius_common import BadValue, from_epoch
from cpniguard.connectivity.parsers.nat_common import host, port

_TYPE = re.compile(r"\[(NEW|DESTROY)\]")
_STAMP = re.compile(r"\[(\d{1,12})\.(\d{6})\]\s+")
_HEAD = re.compile(r"\[(?:NEW|DESTROY)\] +(?:(?:ipv4|ipv6) +\d+ +)?(?P<proto>[a-z0-9]+) +"
                   r"(?P<num>\d+) +(?:(?P<timeout>\d+) +)?(?:(?P<state>[A-Z_]+) +)?")
_PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "udplite": 136, "sctp": 132, "dccp": 33}
_KIND = {"NEW": EventKind.NAT_ALLOCATE, "DESTROY": EventKind.NAT_RELEASE}


def parse(lines: Iterable[str], source: Source, *, device: str = ""
          ) -> Iterator[Event | Quarantined]:
    """Events from conntrack event lines; `device` names the NAT box that wrote them."""
    for number, line in numbered(lines):
        kind = _TYPE.search(line)
        if kind is None:
            continue
        try:
            yield from _event(line, kind, source, number, device)
        except (BadValue, ValueError, OverflowError) as exc:
            yield Quarantined(source.path, number, str(exc), line)


def _tuples(text: str) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The original and reply tuples (a key seen again starts the reply) and trailing flags."""
    original: dict[str, str] = {}
    reply: dict[str, str] = {}
    flags: list[str] = []
    current = original
    for token in text.split():
        if token.startswith("[") and token.endswith("]"):
            flags.append(token[1:-1])
            continue
        key, eq, value = token.partition("=")
        if not eq or not value:
            raise BadValue(f"unexpected token {token!r}")
        if key in {"mark", "secctx", "zone", "use", "labels", "delta-time", "timestamp"} or \
                key.startswith(("packets", "bytes")):
            continue  # accounting and housekeeping keys, after the tuples
        if key in current:
            if current is reply:
                raise BadValue(f"{key}= given three times")
            current = reply
        current[key] = value
    return original, reply, flags


def _event(line: str, tag: re.Match[str], source: Source, number: int,
           device: str) -> Iterator[Event]:
    kind = tag[1]
    stamp = _STAMP.match(line)
    if stamp is None or stamp.end() != tag.start():
        raise BadValue("no [epoch.usec] timestamp before the event (use -o timestamp)")
    at = from_epoch(int(stamp[1])) + timedelta(microseconds=int(stamp[2]))
    head = _HEAD.match(line, stamp.end())
    if head is None:
        raise BadValue("no protocol name and number after the event type")
    proto = head["proto"]
    if _PROTOS.get(proto, -1) != int(head["num"]):
        raise BadValue(f"protocol {proto} {head['num']} is not one conntrack prints")
    if kind == "NEW" and head["timeout"] is None:
        raise BadValue("a NEW event without its timeout")
    original, reply, flags = _tuples(line[head.end():])
    key = "id" if proto == "icmp" else "sport"
    reply_key = "id" if proto == "icmp" else "dport"
    for needed, tup in ((("src", "dst", key), original), (("src", "dst", reply_key), reply)):
        missing = [k for k in needed if k not in tup]
        if missing:
            raise BadValue(f"tuple lacks {', '.join(missing)}")
    inside, inside_port = host(original["src"]), port(original[key])
    public, public_port = host(reply["dst"]), port(reply[reply_key])
    if (inside, inside_port) == (public, public_port):
        return  # not source-translated: maps nothing
    extra: list[tuple[str, str]] = [("conntrack-event", kind),
                                    ("inside-port", str(inside_port)),
                                    ("destination", str(host(original["dst"]).network_address))]
    if proto != "icmp":
        extra.append(("destination-port", str(port(original.get("dport", "")))))
    if head["state"]:
        extra.append(("tcp-state", head["state"]))
    extra += [("flag", f) for f in flags]
    yield Event(kind=_KIND[kind], at=at, evidence=Evidence(source.path, number),
                address=public, inside_address=inside, port_first=public_port,
                port_last=public_port, protocol=proto, device=device, extra=tuple(extra))
