"""Test-run environment: a private data directory, so tests never touch ./var."""

import os
import tempfile

os.environ.setdefault("CPNIGUARD_HOME", tempfile.mkdtemp(prefix="cpniguard-test-"))
os.environ.pop("CPNIGUARD_POLICY", None)
