"""Retention of connectivity logs, and the legal holds that suspend it.

The policy file says how many days each kind of log is kept; `cpniguard retention run`
deletes what is older, physically, except rows named by a legal hold in force. Holds are
placed, renewed and released by the custodian of records under a legal case reference. Every
hold action and every purged day is written to the audit trail.
"""
