"""The documented request format: the example and the JSON schema in docs/ agree with what
the desk reads."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from cpniguard.legal.findings import Severity
from cpniguard.legal.rules import check
from cpniguard.policy import Policy

from .conftest import document_for, kinds
from .test_rules import CONTEXT

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA = json.loads((DOCS / "legal-request.schema.json").read_text())
EXAMPLE = json.loads((DOCS / "legal-request-example.json").read_text())


def test_the_example_fits_the_schema_and_passes_validation(policy: Policy) -> None:
    jsonschema.validate(EXAMPLE, SCHEMA)
    _, findings = check(policy, EXAMPLE, CONTEXT)
    assert [f.code for f in findings if f.severity is Severity.ERROR] == []


@pytest.mark.parametrize("kind", kinds())
def test_a_valid_request_of_every_kind_fits_the_schema(policy: Policy, kind: str) -> None:
    jsonschema.validate(document_for(policy.legal_process[kind]), SCHEMA)


def test_the_schema_knows_every_field_the_desk_reads() -> None:
    from cpniguard.legal.request_format import AGENT_FIELDS, TARGET_KINDS, TEXT_FIELDS

    properties = SCHEMA["properties"]
    assert set(TEXT_FIELDS) <= properties.keys()
    assert set(AGENT_FIELDS) == properties["agent"]["properties"].keys()
    assert list(TARGET_KINDS) == SCHEMA["$defs"]["target"]["properties"]["kind"]["enum"]
