"""Test-run environment, loaded as a plugin (`-p tests.environment`) before pytest-django
reads the settings: a private data directory per run, so tests never touch ./var and parallel
runs never share a database file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["CPNIGUARD_HOME"] = os.environ.get("CPNIGUARD_TEST_HOME") or tempfile.mkdtemp(
    prefix="cpniguard-test-"
)
os.environ.pop("CPNIGUARD_POLICY", None)


def pytest_configure(config: pytest.Config) -> None:
    # WhiteNoise warns when STATIC_ROOT is missing, and warnings are errors here. Tests serve no
    # collected static files (`cpniguard migrate` collects them in a deployment), so an empty
    # directory is enough.
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
