"""How the quality commands end on a failure: one message, one exit code, the same for
`quality report|subscriber` and `quality speedtest import`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the commands import this before Django is set up: no models at import
    from cpniguard.access import AccessRefused
    from cpniguard.access.gate import SubjectNotFound
    from cpniguard.connectivity.question import Usage

EXIT_USAGE, EXIT_REFUSED, EXIT_NOT_FOUND = 2, 3, 4


def exit_for(command: str, error: Usage | SubjectNotFound | AccessRefused,
             as_json: bool) -> int:
    """Print why `command` stopped (stderr; a refusal also as JSON on stdout with --json)."""
    from cpniguard.access import AccessRefused
    from cpniguard.access.gate import SubjectNotFound

    if isinstance(error, AccessRefused):
        decision = error.decision
        print(f"refused: {decision.reason} (rule {decision.rule})", file=sys.stderr)
        if as_json:
            print(json.dumps({"error": "refused", "reason": decision.reason,
                              "rule": decision.rule}))
        return EXIT_REFUSED
    print(f"cpniguard {command}: {error}", file=sys.stderr)
    return EXIT_NOT_FOUND if isinstance(error, SubjectNotFound) else EXIT_USAGE
