"""What staff can do with customer records, each through the access gate.

Views, API endpoints and CLI commands call these functions and nothing below them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from cpniguard.access import Actor, access
from cpniguard.access.gate import SubjectNotFound
from cpniguard.policy import Action, current_policy
from cpniguard.subscribers import catalog, records
from cpniguard.subscribers.models import Interaction, Subscriber

RESOURCE = "subscriber:record"
INTERACTION_RESOURCE = "subscriber:interaction"
MAX_RESULTS = 25


def _matches() -> QuerySet[Subscriber]:
    # A result row shows account, name and service town: only addresses are needed.
    return Subscriber.objects.prefetch_related("addresses")


def search(actor: Actor, query: str, *, purpose: str, reference: str | None = None
           ) -> list[dict[str, Any]]:
    """Find records by account number, last or business name, phone, email or street.

    A search only matches on the categories the purpose may see, so it cannot confirm that a
    name or phone exists to someone who may not see names or phones.
    """
    query = query.strip()
    with access(actor, Action.SEARCH, resource=RESOURCE, purpose=purpose, reference=reference,
                subject="search", categories=catalog.RECORD_CATEGORIES) as permit:
        granted = permit.decision.granted
        condition = Q()
        matched_on: list[str] = []
        for category, lookups in catalog.SEARCHABLE.items():
            if category not in granted:
                continue
            for lookup in lookups:
                condition |= Q(**{f"{lookup}__iexact": query})
                if lookup in ("last_name", "business_name", "addresses__line1"):
                    condition |= Q(**{f"{lookup}__istartswith": query})
                matched_on.append(f"{category}.{lookup.split('__')[-1]}")
        found = list(_matches().filter(condition).distinct()[:MAX_RESULTS]) if query else []
        permit.about("subscribers:" + ",".join(str(s.pk) for s in found))
        permit.touched([f"query:{name}" for name in matched_on])
        permit.touched(catalog.SUMMARY_FIELDS[c] for c in catalog.SUMMARY_FIELDS if c in granted)
        return [catalog.summary(s, granted) for s in found]


def detail(actor: Actor, subscriber_id: int, *, purpose: str, reference: str | None = None
           ) -> dict[str, Any]:
    """One record, showing only what the declared purpose needs; the rest masked."""
    with access(actor, Action.READ, resource=RESOURCE, purpose=purpose, reference=reference,
                subject=f"subscriber:{subscriber_id}",
                categories=catalog.RECORD_CATEGORIES) as permit:
        view = records.load_record(subscriber_id, permit.decision.granted, tuple(catalog.FIELDS))
        if view is None:
            raise SubjectNotFound(f"no subscriber {subscriber_id}")
        permit.touched(catalog.fields_shown(permit.decision.granted))
        view["decision"] = {"rule": permit.decision.rule, "purpose": purpose,
                            "reference": reference or ""}
        return view


def _ticket_from(reference: str | None) -> str:
    """A note made under a ticket reference is filed under that ticket; other references
    (a legal case, free text) are not ticket numbers."""
    kind = current_policy().references.get("ticket")
    if reference and kind is not None and kind.pattern.fullmatch(reference):
        return reference
    return ""


def add_interaction(actor: Actor, subscriber_id: int, *, purpose: str,
                    reference: str | None, channel: str, summary: str,
                    ticket: str = "") -> Interaction:
    """Add a staff interaction note; the note and its audit entry commit together."""
    summary = summary.strip()
    if not summary:
        raise ValueError("an interaction note needs a summary")
    if ticket and not current_policy().references["ticket"].pattern.fullmatch(ticket):
        raise ValueError(f"{ticket!r} is not a ticket number")
    if channel not in Interaction.Channel.values:
        raise ValueError(f"unknown channel {channel!r}; one of {Interaction.Channel.values}")
    with access(actor, Action.ANNOTATE, resource=INTERACTION_RESOURCE, purpose=purpose,
                reference=reference, subject=f"subscriber:{subscriber_id}",
                categories={"interactions"}) as permit:
        if not Subscriber.objects.filter(pk=subscriber_id).exists():
            raise SubjectNotFound(f"no subscriber {subscriber_id}")
        note = Interaction.objects.create(
            subscriber_id=subscriber_id, channel=channel, summary=summary,
            ticket=ticket or _ticket_from(reference), staff=actor.username,
        )
        permit.touched(["interactions.channel", "interactions.summary", "interactions.ticket"])
        permit.about(f"subscriber:{subscriber_id}/interaction:{note.pk}")
        return note
