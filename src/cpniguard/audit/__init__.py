"""The tamper-evident audit trail: a SHA-256 hash chain with Ed25519-signed Merkle checkpoints.

`record()` is the only writer. It must run inside the transaction of the action it records, so
that the action and its entry commit or vanish together.
"""
