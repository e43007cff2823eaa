"""What each kind of legal process may compel, as plain data read from the policy file.

The `[legal_process.<kind>]` tables say, per kind, which data categories it reaches, which
fields and documents a request of that kind must carry, and how notice, sealing, counsel
review and follow-up work. `[legal_documents]` names the documents a kind may require, and
`[legal_desk]` who must approve. The legal desk's validator reads only these tables, so an
operator changes a rule by editing the file and running `cpniguard policy check`.

No Django and no import of `policy.model`: the model imports this module for its types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

# The fields of a legal request an operator may list under `required`; they are the keys of
# the request format documented in docs/legal-desk.md.
REQUEST_FIELDS = frozenset({
    "issuing_authority", "court", "case_number", "agent_name", "agent_contact",
    "contact_verification", "addressed_to", "signature", "issued", "served", "response_due",
    "targets", "categories", "date_range", "nondisclosure",
})

Err = Callable[..., None]

# When the customer is told of process naming them (`customer_notice`): before anything is
# produced (civil and DMCA subpoenas: they may move to quash), after production, or never.
# `true` and `false` are read as "after_production" and "never".
NOTICE_BEFORE, NOTICE_AFTER, NOTICE_NEVER = "before_production", "after_production", "never"
NOTICE_WHEN = (NOTICE_BEFORE, NOTICE_AFTER, NOTICE_NEVER)


@dataclass(frozen=True, slots=True)
class LegalProcessKind:
    id: str
    label: str
    statute: str
    may_compel: frozenset[str]
    required: frozenset[str]
    required_documents: frozenset[str] = frozenset()
    discloses: bool = True            # false: preservation, non-disclosure order
    needs_court_order: bool = False
    prospective: bool = False         # reaches records made after service only
    past_only: bool = False           # reaches records existing at service only
    sealed: bool = False              # the provider must not reveal the order
    max_days: int | None = None       # longest date range the kind may name
    customer_notice: bool = False     # may we tell the customer (absent a 2705(b) order)?
    notice_wait_days: int = 0         # production waits this long after the notice
    counsel_review: str = ""          # why counsel must look at it; empty: no need
    follow_up_days: int | None = None  # legal process must follow within (emergencies)
    preserve_days: int | None = None   # how long a preservation keeps records
    renewals: int = 0                  # how many times a preservation may be renewed
    preserve_on_intake: bool = False   # holds are placed at intake, before any approval
    notice_when: str = NOTICE_NEVER    # before_production, after_production or never


@dataclass(frozen=True, slots=True)
class LegalDesk:
    approvals: tuple[str, ...] = ("custodian", "counsel")
    # Kinds the transparency report may count only in bands of `band_width` (0-499, ...).
    banded_kinds: tuple[str, ...] = ()
    band_width: int = 500
    # Days a before-production notice runs before production (a kind's notice_wait_days wins).
    civil_notice_days: int = 14


_BOOLS = ("discloses", "needs_court_order", "prospective", "past_only", "sealed",
          "preserve_on_intake")
_DAYS = ("max_days", "notice_wait_days", "follow_up_days", "preserve_days", "renewals")
_KNOWN_KEYS = frozenset({"label", "statute", "may_compel", "required", "required_documents",
                         "counsel_review", "customer_notice", *_BOOLS, *_DAYS})


def _names(entry: dict[str, Any], key: str, at: tuple[str, ...], err: Err) -> list[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        err(f"{'.'.join(at)}.{key} must be a list of names", *at, key)
        return []
    return value


def parse_documents(raw: Any, err: Err) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        err("[legal_documents] must be a table of id = label", "legal_documents")
        return {}
    documents: dict[str, str] = {}
    for did, label in raw.items():
        if not isinstance(label, str) or not label.strip():
            err(f"legal_documents.{did} must be a non-empty label", "legal_documents", did)
            continue
        documents[did] = label
    return documents


def parse_kinds(raw: Any, categories: frozenset[str], documents: dict[str, str],
                err: Err) -> dict[str, LegalProcessKind]:
    """Every `[legal_process.<kind>]` table, each problem reported on its own line."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        err("[legal_process] must hold one table per kind of process", "legal_process")
        return {}
    kinds: dict[str, LegalProcessKind] = {}
    for kid, entry in raw.items():
        at = ("legal_process", kid)
        if not isinstance(entry, dict):
            err(f"legal_process.{kid} must be a table", *at)
            continue
        kind = _kind(kid, entry, at, categories, documents, err)
        if kind is not None:
            kinds[kid] = kind
    return kinds


def _kind(kid: str, entry: dict[str, Any], at: tuple[str, ...], categories: frozenset[str],
          documents: dict[str, str], err: Err) -> LegalProcessKind | None:
    name = ".".join(at)
    for key in sorted(entry.keys() - _KNOWN_KEYS):
        err(f"{name}: unknown key {key!r}", *at, key)
    texts = {}
    for key in ("label", "statute"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            err(f"{name}.{key} must be a non-empty string", *at, key)
            value = ""
        texts[key] = value
    compel = _names(entry, "may_compel", at, err)
    unknown = sorted(set(compel) - categories)
    if unknown:
        err(f"{name}.may_compel names unknown categories {unknown}", *at, "may_compel")
    required = _names(entry, "required", at, err)
    bad_fields = sorted(set(required) - REQUEST_FIELDS)
    if bad_fields:
        err(f"{name}.required names unknown request fields {bad_fields}; known: "
            f"{sorted(REQUEST_FIELDS)}", *at, "required")
    docs = _names(entry, "required_documents", at, err)
    bad_docs = sorted(set(docs) - documents.keys())
    if bad_docs:
        err(f"{name}.required_documents names documents not declared in [legal_documents]: "
            f"{bad_docs}", *at, "required_documents")
    flags = {}
    for key in _BOOLS:
        value = entry.get(key, key == "discloses")
        if not isinstance(value, bool):
            err(f"{name}.{key} must be true or false", *at, key)
            value = False
        flags[key] = value
    notice = _notice_when(entry.get("customer_notice", False), name, at, err)
    flags["customer_notice"] = notice != NOTICE_NEVER
    days: dict[str, int | None] = {}
    for key in _DAYS:
        value = entry.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 0):
            err(f"{name}.{key} must be a whole number of days, 0 or more", *at, key)
            value = None
        days[key] = value
    review = entry.get("counsel_review", "")
    if not isinstance(review, str):
        err(f"{name}.counsel_review must be the reason counsel must review, as text",
            *at, "counsel_review")
        review = ""
    _coherent(name, at, flags, days, compel, required, review, err)
    if days["notice_wait_days"] and notice != NOTICE_BEFORE:
        err(f"{name}: notice_wait_days needs customer_notice = \"{NOTICE_BEFORE}\"", *at,
            "notice_wait_days")
    return LegalProcessKind(
        kid, texts["label"], texts["statute"], frozenset(compel) & categories,
        frozenset(required) & REQUEST_FIELDS, frozenset(docs) & frozenset(documents),
        flags["discloses"], flags["needs_court_order"], flags["prospective"],
        flags["past_only"], flags["sealed"], days["max_days"], flags["customer_notice"],
        days["notice_wait_days"] or 0, review, days["follow_up_days"], days["preserve_days"],
        days["renewals"] or 0, flags["preserve_on_intake"], notice,
    )


def _notice_when(value: Any, name: str, at: tuple[str, ...], err: Err) -> str:
    if isinstance(value, bool):
        return NOTICE_AFTER if value else NOTICE_NEVER
    if value in NOTICE_WHEN:
        return str(value)
    err(f"{name}.customer_notice must be one of {', '.join(NOTICE_WHEN)}", *at,
        "customer_notice")
    return NOTICE_NEVER


def with_notice_wait(kinds: dict[str, LegalProcessKind],
                     desk: LegalDesk) -> dict[str, LegalProcessKind]:
    """A kind that notifies before production and names no wait of its own waits the desk's
    `civil_notice_days`, so the one setting governs every such kind."""
    return {kid: replace(kind, notice_wait_days=desk.civil_notice_days)
            if kind.notice_when == NOTICE_BEFORE and not kind.notice_wait_days else kind
            for kid, kind in kinds.items()}


def _coherent(name: str, at: tuple[str, ...], flags: dict[str, bool],
              days: dict[str, int | None], compel: list[str], required: list[str],
              review: str, err: Err) -> None:
    """Combinations that cannot be meant: each would make the desk answer wrongly."""
    if flags["needs_court_order"] and "court" not in required:
        err(f"{name}: needs_court_order requires 'court' among the required fields",
            *at, "required")
    if flags["sealed"] and flags["customer_notice"]:
        err(f"{name}: a sealed kind cannot allow customer notice", *at, "customer_notice")
    if flags["prospective"] and flags["past_only"]:
        err(f"{name}: prospective and past_only exclude each other", *at, "past_only")
    if not flags["discloses"] and flags["customer_notice"]:
        err(f"{name}: a kind that discloses nothing has no customer notice", *at,
            "customer_notice")
    if flags["discloses"] and not compel and not review:
        # Every request of such a kind would be refused with no one told why it exists.
        err(f"{name}: a disclosing kind that may compel nothing needs a counsel_review "
            "reason", *at, "may_compel")
    if days["renewals"] and not days["preserve_days"]:
        err(f"{name}: renewals need preserve_days", *at, "renewals")
    if flags["preserve_on_intake"] and not days["preserve_days"]:
        err(f"{name}: preserve_on_intake needs preserve_days", *at, "preserve_on_intake")


def parse_desk(raw: Any, roles: frozenset[str], err: Err) -> LegalDesk:
    if raw is None:
        return LegalDesk()
    if not isinstance(raw, dict):
        err("[legal_desk] must be a table", "legal_desk")
        return LegalDesk()
    approvals = raw.get("approvals", list(LegalDesk().approvals))
    if not isinstance(approvals, list) or not all(isinstance(a, str) for a in approvals):
        err("legal_desk.approvals must be a list of roles", "legal_desk", "approvals")
        return LegalDesk()
    unknown = sorted(set(approvals) - roles)
    if unknown:
        err(f"legal_desk.approvals names unknown roles {unknown}", "legal_desk", "approvals")
    if len(set(approvals)) < 2 or len(set(approvals)) != len(approvals):
        err("legal_desk.approvals must name at least two different roles, each once",
            "legal_desk", "approvals")
    banded = raw.get("banded_kinds", [])
    if not isinstance(banded, list) or not all(isinstance(k, str) for k in banded):
        err("legal_desk.banded_kinds must be a list of kinds", "legal_desk", "banded_kinds")
        banded = []
    width = raw.get("band_width", LegalDesk().band_width)
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        err("legal_desk.band_width must be a whole number, at least 1", "legal_desk",
            "band_width")
        width = LegalDesk().band_width
    days = raw.get("civil_notice_days", LegalDesk().civil_notice_days)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        err("legal_desk.civil_notice_days must be a whole number of days, 0 or more",
            "legal_desk", "civil_notice_days")
        days = LegalDesk().civil_notice_days
    return LegalDesk(tuple(approvals), tuple(banded), width, days)
