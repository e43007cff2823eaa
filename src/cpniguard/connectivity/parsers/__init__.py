"""One module per log format. Each exposes `parse(lines, source) -> Iterator[Event | Quarantined]`
and streams: constant memory, one record at a time."""
