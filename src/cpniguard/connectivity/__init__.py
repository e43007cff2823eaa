"""Connectivity logs: parsers for the formats ISPs really produce, and (to come) the log store,
attribution, retention and legal holds."""
