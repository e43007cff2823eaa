"""The Network page (per device, with plots) and one subscriber's connection health.

Thin over `quality.services`, as the CLI is: the page reads its query, calls
`network_report` / `subscriber_health` / `export_plot` and renders what they return. A
refusal is the usual 403 page, audited by the gate. Plots reach the chart script as JSON in a
`<script type="application/json">` element (`json_script`); PNG is drawn from the chart's
canvas in the browser, CSV comes from the server so that it is audited.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cpniguard.access.gate import AccessRefused, SubjectNotFound
from cpniguard.connectivity.question import Usage
from cpniguard.policy import Action
from cpniguard.quality.services import export_plot, network_report, subscriber_health
from cpniguard.web.guards import (
    PurposeOption,
    actor_of,
    purpose_options,
    refused,
    staff_of,
    staff_page,
)

CATEGORIES = {"service_quality"}
QUERY = ("since", "until", "device", "pop", "resolution", "purpose", "reference", "account")


def quality_options(role: str) -> list[PurposeOption]:
    """Purposes `role` may declare to read service-quality data; the page and menu use it."""
    return purpose_options(role, Action.READ, CATEGORIES)


def _query(request: HttpRequest) -> dict[str, str | None]:
    return {name: (request.GET.get(name) or "").strip() or None for name in QUERY}


def _for_page(plots: list[dict[str, Any]], request: HttpRequest,
              context: dict[str, Any], k: int) -> None:
    for number, plot in enumerate(plots, start=1):
        plot["dom_id"] = f"plot-{number}"
    context["csv_query"] = request.GET.urlencode()
    context["k_text"] = f"< {k}"


def _refused(request: HttpRequest, error: AccessRefused, doing: str) -> HttpResponse:
    return refused(request, error, doing=doing,
                   options=quality_options(staff_of(request).role),
                   retry_url=reverse("web:network"))


@require_GET
@staff_page
def network(request: HttpRequest) -> HttpResponse:
    query = _query(request)
    options = quality_options(staff_of(request).role)
    context: dict[str, Any] = {"query": query, "options": options, "report": None,
                               "error": "", "resolutions": ("", "5m", "15m", "1h", "1d")}
    if query["since"]:
        try:
            context["report"] = network_report(
                actor_of(request), since=query["since"], until=query["until"],
                device=query["device"], pop=query["pop"], resolution=query["resolution"],
                purpose=query["purpose"] or "", reference=query["reference"])
        except Usage as error:
            context["error"] = str(error)
        except AccessRefused as error:
            return _refused(request, error, "see the network's service-quality figures")
        report = context["report"]
        if report is not None:
            for device in [*report["devices"], *report["pops"], *report["access_devices"]]:
                ends = device["ends"]
                device["shown_ends"] = {"stop": ends["stop"], "restart": ends["nas-restart"],
                                        "lost": ends["no-stop"]}
            _for_page(report["plots"], request, context, report["k"])
    return render(request, "web/network.html", context,
                  status=422 if context["error"] else 200)


@require_GET
@staff_page
def subscriber_quality(request: HttpRequest) -> HttpResponse:
    query = _query(request)
    context: dict[str, Any] = {"query": query, "view": None, "error": "",
                               "options": quality_options(staff_of(request).role)}
    if query["account"]:
        try:
            context["view"] = subscriber_health(
                actor_of(request), query["account"], purpose=query["purpose"] or "",
                reference=query["reference"], since=query["since"], until=query["until"])
        except (Usage, SubjectNotFound) as error:
            context["error"] = str(error)
        except AccessRefused as error:
            return _refused(request, error, "see a subscriber's connection health")
        if context["view"] is not None:
            _for_page(context["view"]["plots"], request, context, 0)
    return render(request, "web/subscriber_quality.html", context,
                  status=422 if context["error"] else 200)


@require_GET
@staff_page
def plot_csv(request: HttpRequest, plot: str) -> HttpResponse:
    query = _query(request)
    try:
        text = export_plot(actor_of(request), plot, account=query["account"],
                           since=query["since"], until=query["until"], device=query["device"],
                           pop=query["pop"], resolution=query["resolution"],
                           purpose=query["purpose"] or "",
                           reference=query["reference"])
    except (Usage, SubjectNotFound) as error:
        return HttpResponse(str(error), status=422, content_type="text/plain")
    except AccessRefused as error:
        return _refused(request, error, "export a service-quality plot")
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in plot)
    response["Content-Disposition"] = f'attachment; filename="{safe}.csv"'
    return response
