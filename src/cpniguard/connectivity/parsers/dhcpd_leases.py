"""ISC dhcpd.leases (DHCPv4 `lease` blocks and DHCPv6 `ia-na`/`ia-ta`/`ia-pd` blocks).

Every block becomes LEASE_STATE events in file order, each with the line it starts on. The file
is append-only and the last block for an address wins, but resolving that is the interval
builder's job: the parser reports what was written, never a conclusion. The binding state
(`active`, `free`, `released`, `expired`, `backup`, ...) is kept in `extra` rather than mapped to
LEASE_RELEASE/LEASE_EXPIRE, because `free` alone does not say whether the client released the
lease or it ran out, and a block rewritten at start-up carries an old state with a new position.

Dates are UTC (`W YYYY/MM/DD HH:MM:SS`, weekday 0 = Sunday) or `epoch N;` with a comment in
local time that is ignored: the epoch is the authority, and some writers garble the comment.
Only one block is buffered at a time, capped, so memory stays constant on large files.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import NamedTuple

from cpniguard.connectivity.events import Event, EventKind, Evidence, Quarantined, Source, numbered
from cpniguard.connectivity.parsers.dhcp_common import BadValue, hex_of, mac_of, printable

_LEASE_HEADS = frozenset({"lease", "ia-na", "ia-ta", "ia-pd"})
# Top-level statements that describe the server or the file, not a lease holder.
_SKIP_STATEMENTS = frozenset({"server-duid", "authoring-byte-order", "lease-id-format"})
# Top-level blocks with no holder in them: failover peer state, host declarations, classes.
_SKIP_BLOCKS = frozenset({"failover", "host", "class", "subclass"})
_DATES = ("starts", "ends", "tstp", "tsfp", "atsfp", "cltt")
_MAX_TOKENS = 4000  # a real block has a few dozen; beyond this it is not a lease block
_MAX_RAW_LINES = 200
_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([{};])|(#.*)|([^\s{};"#]+))')


class Token(NamedTuple):
    kind: str  # "word", "str", "{", "}", ";"
    text: str
    line: int


class Stmt(NamedTuple):
    words: tuple[Token, ...]
    body: tuple[Stmt, ...] | None
    line: int


def _tokenize(line: str, number: int) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(line):
        if not line[pos:].strip():
            break
        m = _TOKEN.match(line, pos)
        if m is None:
            raise BadValue("unterminated string")
        pos = m.end()
        if m.group(1) is not None:
            out.append(Token("str", m.group(1)[1:-1], number))
        elif m.group(2) is not None:
            out.append(Token(m.group(2), m.group(2), number))
        elif m.group(4) is not None:
            out.append(Token("word", m.group(4), number))
        # group 3 is a comment: ignored whatever it says (epoch.leases has garbled ones)
    return out


def _unescape(text: str) -> bytes:
    """A dhcpd quoted string as bytes: `\\ooo` octal escapes, `\\x` for a literal x."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            octal = re.match(r"[0-7]{1,3}", text[i + 1:])
            if octal:
                value = int(octal.group(0), 8)
                if value > 255:
                    raise BadValue(f"octal escape out of range in {text!r}")
                out.append(value)
                i += 1 + len(octal.group(0))
                continue
            ch = text[i + 1]
            i += 1
        out += ch.encode("utf-8", "surrogateescape")
        i += 1
    return bytes(out)


def _value_bytes(tokens: tuple[Token, ...]) -> bytes:
    """A uid or agent option: a quoted string, or colon hex such as `0:1:3:e9`."""
    if len(tokens) != 1:
        raise BadValue("expected one value")
    tok = tokens[0]
    if tok.kind == "str":
        return _unescape(tok.text)
    return bytes.fromhex(hex_of(tok.text))


def _date(tokens: tuple[Token, ...]) -> datetime | None:
    words = [t.text for t in tokens]
    if words == ["never"]:
        return None
    try:
        if len(words) == 2 and words[0] == "epoch":
            return datetime.fromtimestamp(int(words[1]), UTC)
        if len(words) == 3:
            when = datetime.strptime(f"{words[1]} {words[2]}", "%Y/%m/%d %H:%M:%S")
            # dhcpd writes the weekday (0 = Sunday) from the same instant; disagreement
            # means the line was damaged, and a damaged time is not used.
            if words[0] != str((when.weekday() + 1) % 7):
                raise BadValue(f"weekday {words[0]} does not match {words[1]}")
            return when.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadValue(f"bad date {' '.join(words)!r}: {exc}") from None
    raise BadValue(f"bad date {' '.join(words)!r}")


def _statements(tokens: list[Token], i: int) -> tuple[tuple[Stmt, ...], int]:
    out: list[Stmt] = []
    cur: list[Token] = []
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == ";":
            if cur:
                out.append(Stmt(tuple(cur), None, cur[0].line))
            cur = []
        elif tok.kind == "{":
            if not cur:
                raise BadValue(f"block without a name on line {tok.line}")
            body, i = _statements(tokens, i + 1)
            out.append(Stmt(tuple(cur), body, cur[0].line))
            cur = []
        elif tok.kind == "}":
            if cur:
                raise BadValue(f"statement without ';' on line {cur[0].line}")
            return tuple(out), i
        else:
            cur.append(tok)
        i += 1
    if cur:
        raise BadValue(f"statement without ';' on line {cur[0].line}")
    return tuple(out), i


def _text(tokens: tuple[Token, ...]) -> str:
    return " ".join(printable(_unescape(t.text)) if t.kind == "str" else t.text for t in tokens)


class _Fields:
    """What the statements of one block (or one iaaddr) said."""

    def __init__(self) -> None:
        self.dates: dict[str, datetime | None] = {}
        self.mac = ""
        self.client_id = ""
        self.circuit_id = ""
        self.remote_id = ""
        self.extra: list[tuple[str, str]] = []

    def take(self, stmt: Stmt) -> None:
        words = [t.text for t in stmt.words]
        head, rest = words[0], stmt.words[1:]
        if stmt.body is not None:
            if head == "on":
                return  # `on expiry/commit/release { ... }` are hooks: no holder information
            self.extra.append((f"block:{_text(stmt.words)}", f"{len(stmt.body)} statements"))
        elif head in _DATES:
            if head in self.dates:
                raise BadValue(f"{head} given twice")
            self.dates[head] = _date(rest)
            if self.dates[head] is None:
                self.extra.append((head, "never"))
        elif words[-3:-1] == ["binding", "state"] and words[:-3] in ([], ["next"], ["rewind"]):
            self.extra.append((" ".join(words[:-1]), words[-1]))
        elif head == "hardware" and len(words) == 3 and words[1] == "ethernet":
            self.mac = mac_of(words[2])
        elif head == "uid":
            self.client_id = _value_bytes(rest).hex()
        elif head == "option" and len(words) >= 3 and words[1] in ("agent.circuit-id",
                                                                    "agent.remote-id"):
            raw = _value_bytes(stmt.words[2:])
            name = words[1].removeprefix("agent.")
            if name == "circuit-id":
                self.circuit_id = raw.hex()
            else:
                self.remote_id = raw.hex()
            if raw.isascii() and raw.decode().isprintable():
                self.extra.append((f"{name}-text", raw.decode()))
        elif head == "set" and len(words) >= 4 and words[2] == "=":
            self.extra.append((f"set:{words[1]}", _text(stmt.words[3:])))
        elif head == "option" and len(words) >= 3:
            self.extra.append((f"option:{words[1]}", _text(stmt.words[2:])))
        else:  # client-hostname, statements from newer versions: kept as found
            self.extra.append((head, _text(rest)))


def _v4(header: tuple[Token, ...], body: tuple[Stmt, ...], ev: Evidence) -> list[Event]:
    if len(header) != 2:
        raise BadValue("expected `lease ADDRESS {`")
    address = ipaddress.IPv4Network(ipaddress.IPv4Address(header[1].text))
    f = _Fields()
    for stmt in body:
        f.take(stmt)
    d = f.dates
    dated = [(k, v.isoformat()) for k, v in d.items() if k in ("tstp", "tsfp", "atsfp") and v]
    return [Event(kind=EventKind.LEASE_STATE, at=d.get("cltt") or d.get("starts"), evidence=ev,
                  address=address, starts=d.get("starts"), ends=d.get("ends"), mac=f.mac,
                  client_id=f.client_id, circuit_id=f.circuit_id, remote_id=f.remote_id,
                  extra=tuple(f.extra + dated))]


def _v6(header: tuple[Token, ...], body: tuple[Stmt, ...], source: Source) -> list[Event]:
    kind = header[0].text
    if len(header) != 2 or header[1].kind != "str":
        raise BadValue(f'expected `{kind} "IAID+DUID" {{`')
    ident = _unescape(header[1].text)
    if len(ident) < 5:
        raise BadValue(f"{kind} id too short for IAID + DUID")
    # The first four bytes are the IAID in the writer's byte order (see authoring-byte-order),
    # so they are kept as bytes, not read as a number.
    iaid, duid = ident[:4].hex(), ident[4:].hex()
    cltt: datetime | None = None
    common: list[tuple[str, str]] = [("ia-type", kind), ("iaid", iaid)]
    inner = "iaprefix" if kind == "ia-pd" else "iaaddr"
    events: list[Event] = []
    for stmt in body:
        head = stmt.words[0].text
        if head == "cltt" and stmt.body is None:
            cltt = _date(stmt.words[1:])
        elif head in ("iaaddr", "iaprefix") and stmt.body is not None:
            if head != inner or len(stmt.words) != 2:
                raise BadValue(f"{head} inside {kind}")
            text = stmt.words[1].text
            address: ipaddress.IPv6Network = (
                ipaddress.IPv6Network(text) if head == "iaprefix"
                else ipaddress.IPv6Network(ipaddress.IPv6Address(text)))
            f = _Fields()
            for sub in stmt.body:
                f.take(sub)
            events.append(Event(
                kind=EventKind.LEASE_STATE, at=None, evidence=Evidence(source.path, stmt.line),
                address=address, starts=f.dates.get("starts"), ends=f.dates.get("ends"),
                duid=duid, mac=f.mac, extra=tuple(f.extra)))
        elif stmt.body is None:
            common.append((head, _text(stmt.words[1:])))
        else:
            raise BadValue(f"unexpected block {head} inside {kind}")
    if not events:
        raise BadValue(f"{kind} without {inner}")
    # cltt may follow the iaaddr blocks in principle, so it is applied once the block is read.
    return [replace(e, at=cltt, extra=tuple(common) + e.extra) for e in events]


def _emit(header: tuple[Token, ...], tokens: list[Token], raw: list[str],
          source: Source) -> Iterator[Event | Quarantined]:
    line = header[0].line
    try:
        body, _ = _statements(tokens, 0)
        if header[0].text == "lease":
            yield from _v4(header, body, Evidence(source.path, line))
        else:
            yield from _v6(header, body, source)
    except (BadValue, ValueError, RecursionError) as exc:  # deep nesting: not a lease block
        yield Quarantined(source.path, line, str(exc) or "nested too deeply", "\n".join(raw))


def parse(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    head: list[Token] = []            # the top-level statement or block header being read
    block: list[Token] | None = None  # tokens inside the current lease block
    depth = 0                         # brace depth, also tracked through skipped blocks
    raw: list[str] = []               # the lines of the current record, for quarantine
    start = 0
    for number, line in numbered(lines):
        try:
            tokens = _tokenize(line, number)
        except BadValue as exc:
            tokens = [Token("bad", str(exc), number)]
        if (depth or head or tokens) and len(raw) < _MAX_RAW_LINES:
            raw.append(line)
        for tok in tokens:
            if tok.kind == "bad":
                yield Quarantined(source.path, number, tok.text, line)
                # The broken string may hide a ';' or '}': the rest of the block is skipped
                # (depth still tracked), and a header broken this way is dropped.
                if depth == 0:
                    head, raw = [], []
                block = None
                continue
            if depth == 0:
                if tok.kind == "{":
                    depth = 1
                    if head and head[0].text in _LEASE_HEADS:
                        block = []
                    elif not head or head[0].text not in _SKIP_BLOCKS:
                        name = head[0].text if head else ""
                        yield Quarantined(source.path, number,
                                          f"unknown top-level block {name!r}", "\n".join(raw))
                elif tok.kind == ";":
                    if head and head[0].text not in _SKIP_STATEMENTS:
                        yield Quarantined(source.path, head[0].line,
                                          f"unknown top-level statement {head[0].text!r}",
                                          "\n".join(raw))
                    head, raw = [], []
                elif tok.kind == "}":
                    yield Quarantined(source.path, number, "'}' without a block", line)
                    head, raw = [], []
                else:
                    if not head:
                        start, raw = number, [line]
                    head.append(tok)
                continue
            # A lease keyword at a statement start inside a block means that block was never
            # closed: quarantine it and resynchronise on the new one.
            prev = block[-1].kind if block else "{"
            if block is not None and tok.kind == "word" and tok.text in _LEASE_HEADS \
                    and prev in (";", "{", "}"):
                yield Quarantined(source.path, start, "block not closed before the next one",
                                  "\n".join(raw[:-1]))
                block, depth, head, start, raw = None, 0, [tok], number, [line]
                continue
            depth += {"{": 1, "}": -1}.get(tok.kind, 0)
            if depth == 0:
                if block is not None:
                    yield from _emit(tuple(head), block, raw, source)
                block, head, raw = None, [], []
            elif block is not None:
                block.append(tok)
                if len(block) > _MAX_TOKENS:
                    yield Quarantined(source.path, start, "block too large", "\n".join(raw))
                    block = None
    if depth or head:
        yield Quarantined(source.path, start, "file ends inside a block or statement",
                          "\n".join(raw))
