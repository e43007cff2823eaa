"""Internal service-quality tools for technical staff, built from the connectivity logs.

`scan` reads intervals of a range from the embedded log store; `sessions` folds them into
connections; `network`, `capacity` and `outages` make the NOC's figures, `health` one
subscriber's; `services` is the only entry point the CLI and the web pages call, through the
access gate, with small figures suppressed (`suppress`). See docs/service-quality.md.
"""
