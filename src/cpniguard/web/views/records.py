"""Pages over protected records: customer records (search, purpose prompt, detail, interaction
notes) and the audit trail of accesses to them.

Thin over the domain services (`cpniguard.subscribers.services`, `cpniguard.audit.services`):
the views parse the declared purpose and reference, call a service, and render what it
returns. They never query the records themselves, so every page of protected data has passed
the access gate and left its audit entry, reading the audit trail included.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cpniguard.access.gate import AccessRefused, SubjectNotFound
from cpniguard.audit.services import list_entries
from cpniguard.policy import Action, current_policy
from cpniguard.subscribers import services
from cpniguard.subscribers.catalog import FIELDS
from cpniguard.web.forms import AuditFilterForm, InteractionForm, PurposeForm, SearchForm
from cpniguard.web.guards import (
    ACTION_WORDS,
    actor_of,
    audit_options,
    may,
    purpose_label,
    record_options,
    refused,
    staff_of,
    staff_page,
)

# ---------------------------------------------------------------- customer records


def _declared(data: Any) -> tuple[str, str | None]:
    purpose = str(data.get("purpose", "")).strip()
    reference = str(data.get("reference", "")).strip()
    return purpose, reference or None


def detail_url(pk: int, purpose: str, reference: str | None) -> str:
    query = {"purpose": purpose, **({"reference": reference} if reference else {})}
    return f"{reverse('web:subscriber_detail', args=[pk])}?{urlencode(query)}"


@require_GET
@staff_page
def subscriber_search(request: HttpRequest) -> HttpResponse:
    role = staff_of(request).role
    options = record_options(role, Action.SEARCH)
    form = SearchForm(request.GET or None, options=options)
    purpose, reference = _declared(request.GET)
    query = request.GET.get("q", "").strip()[:200]
    context: dict[str, Any] = {"form": form, "options": options, "query": query,
                               "purpose": purpose, "reference": reference or "",
                               "results": None}
    if purpose:
        try:
            results = services.search(actor_of(request), query, purpose=purpose,
                                      reference=reference)
        except AccessRefused as error:
            return refused(request, error, doing=ACTION_WORDS[Action.SEARCH], options=options,
                           retry_url=reverse("web:subscriber_search"))
        context["results"] = [
            {**row, "url": detail_url(row["id"], purpose, reference)} for row in results
        ]
        context["purpose_label"] = purpose_label(purpose)
    return render(request, "web/subscriber_search.html", context)


def _sections(view: dict[str, Any]) -> list[dict[str, Any]]:
    """One box per data category, in the catalogue's order, masked ones marked as such."""
    categories = current_policy().categories
    masked = set(view["masked"])
    return [
        {"id": category, "label": categories[category].label, "value": view[category],
         "masked": category in masked, "template": f"web/sections/{category}.html"}
        for category in FIELDS
    ]


def _detail_context(request: HttpRequest, pk: int, purpose: str, reference: str | None,
                    view: dict[str, Any], form: InteractionForm | None = None) -> dict[str, Any]:
    role = staff_of(request).role
    can_note = may(role, Action.ANNOTATE, purpose, "interactions") and \
        "interactions" not in view["masked"]
    return {
        "pk": pk, "view": view, "sections": _sections(view), "purpose": purpose,
        "purpose_label": purpose_label(purpose), "reference": reference or "",
        "decision": view["decision"], "interactions": view["interactions"] or [],
        "can_note": can_note,
        "note_form": form or InteractionForm(initial={"purpose": purpose,
                                                      "reference": reference or ""}),
    }


def _detail(request: HttpRequest, pk: int, purpose: str,
            reference: str | None) -> dict[str, Any] | HttpResponse:
    """services.detail, with a refusal turned into the 403 page and a missing record a 404."""
    try:
        return services.detail(actor_of(request), pk, purpose=purpose, reference=reference)
    except AccessRefused as error:
        return refused(request, error, doing=ACTION_WORDS[Action.READ],
                       options=record_options(staff_of(request).role, Action.READ),
                       retry_url=reverse("web:subscriber_detail", args=[pk]))
    except SubjectNotFound:
        raise Http404("no such subscriber") from None


@require_GET
@staff_page
def subscriber_detail(request: HttpRequest, pk: int) -> HttpResponse:
    purpose, reference = _declared(request.GET)
    if not purpose:
        # Nothing is read before a purpose is declared, not even the name.
        options = record_options(staff_of(request).role, Action.READ)
        form = PurposeForm(options=options, initial={"reference": reference or ""})
        return render(request, "web/purpose_prompt.html", {
            "form": form, "options": options, "pk": pk,
            "action_url": reverse("web:subscriber_detail", args=[pk]),
        })
    view = _detail(request, pk, purpose, reference)
    if isinstance(view, HttpResponse):
        return view
    context = _detail_context(request, pk, purpose, reference, view)
    return render(request, "web/subscriber_detail.html", context)


@require_POST
@staff_page
def interaction_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a note; htmx gets the refreshed interaction block, a plain form a redirect."""
    htmx = request.headers.get("HX-Request") == "true"
    form = InteractionForm(request.POST)
    purpose, reference = _declared(request.POST)
    if not form.is_valid():
        if htmx:
            response = render(request, "web/partials/form_errors.html", {"form": form},
                              status=422)
            response["HX-Retarget"] = "#interaction-feedback"
            response["HX-Reswap"] = "innerHTML"
            return response
        for field, errors in form.errors.items():
            messages.error(request, f"Note not added: {field}: {' '.join(map(str, errors))}")
        if not purpose:
            return HttpResponseRedirect(reverse("web:subscriber_detail", args=[pk]))
        return HttpResponseRedirect(detail_url(pk, purpose, reference))
    try:
        services.add_interaction(actor_of(request), pk, purpose=purpose, reference=reference,
                                 channel=form.cleaned_data["channel"],
                                 summary=form.cleaned_data["summary"])
    except AccessRefused as error:
        return refused(request, error, doing=ACTION_WORDS[Action.ANNOTATE],
                       options=record_options(staff_of(request).role, Action.ANNOTATE),
                       retry_url=detail_url(pk, purpose, reference))
    except SubjectNotFound:
        raise Http404("no such subscriber") from None
    if not htmx:
        messages.success(request, "Interaction note added.")
        return HttpResponseRedirect(detail_url(pk, purpose, reference))
    # Showing the refreshed list is a read of the record like any other: through the gate.
    view = _detail(request, pk, purpose, reference)
    if isinstance(view, HttpResponse):
        return view
    context = _detail_context(request, pk, purpose, reference, view)
    context["added"] = True
    return render(request, "web/partials/interactions.html", context)


# ---------------------------------------------------------------- the audit trail

PAGE_SIZE = 50


def _page_url(request: HttpRequest, page: int) -> str:
    query = {key: value for key, value in request.GET.items() if key != "page" and value}
    query["page"] = str(page)
    return f"{reverse('web:audit')}?{urlencode(query)}"


def _paging(request: HttpRequest, page: int, count: int) -> dict[str, Any]:
    pages = max(1, -(-count // PAGE_SIZE))
    first = (page - 1) * PAGE_SIZE + 1 if count else 0
    return {
        "page": page, "pages": pages, "count": count, "first": first,
        "last": min(page * PAGE_SIZE, count),
        "previous_url": _page_url(request, page - 1) if page > 1 else "",
        "next_url": _page_url(request, page + 1) if page < pages else "",
    }


@require_GET
@staff_page
def audit_trail(request: HttpRequest) -> HttpResponse:
    """The access records, filtered and paged. Reading them is itself an audited access
    (`list_entries`), so a purpose is declared first, exactly as for customer records."""
    options = audit_options(staff_of(request).role)
    purpose = request.GET.get("purpose", "").strip()
    reference = request.GET.get("reference", "").strip() or None
    if not purpose:
        form = PurposeForm(options=options)
        return render(request, "web/audit_prompt.html", {"form": form, "options": options})
    filters = AuditFilterForm(request.GET)
    context: dict[str, Any] = {
        "filters": filters, "purpose": purpose, "purpose_label": purpose_label(purpose),
        "reference": reference or "", "entries": None,
    }
    if not filters.is_valid():
        return render(request, "web/audit.html", context, status=400)
    wanted = filters.cleaned_data
    page = wanted["page"] or 1
    try:
        result = list_entries(
            actor_of(request), purpose=purpose, reference=reference,
            subscriber=wanted["subscriber"], staff=wanted["staff"] or None,
            entry_purpose=wanted["entry_purpose"] or None, outcome=wanted["outcome"] or None,
            since=wanted["since"], until=wanted["until"],
            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
        )
    except AccessRefused as error:
        return refused(request, error, doing="read the audit trail", options=options,
                       retry_url=reverse("web:audit"))
    except ValueError as error:
        filters.add_error(None, str(error))
        return render(request, "web/audit.html", context, status=400)
    context["entries"] = result["entries"]
    context["paging"] = _paging(request, page, result["count"])
    return render(request, "web/audit.html", context)
