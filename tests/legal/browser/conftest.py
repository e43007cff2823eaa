"""The browser test's teardown allowance, the same as the web tests': for the flush that ends
a transactional test, the audit trail's and the disclosure log's triggers are lifted, and
restored straight after, before the next test starts (see tests/web/conftest.py)."""

from __future__ import annotations

from tests.web.conftest import pytest_runtest_teardown

__all__ = ["pytest_runtest_teardown"]
