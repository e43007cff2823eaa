"""The legal process desk: intake of legal requests, their validation against the rules of
the policy file (`[legal_process.<kind>]`), and their workflow to an answer.

Pure parts (no Django): `request_format` reads a request document, `rules` validates it,
`status` is the workflow's state machine. Django parts: `models`, `attachments` (stored by
SHA-256, never altered), `services` (intake and reads) and `workflow` (transitions,
approvals, narrowing), each through the access gate, and `commands` (the CLI).
"""
