"""The legal desk's answering pages: produce and deliver from a request's page, its letter,
and the transparency report (a page with a chart, and CSV).

Thin over `cpniguard.legal`: the services ask the policy and audit every step. A policy
refusal is the 403 page; a step the workflow does not allow now comes back to the request's
page as a message saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cpniguard.access.gate import AccessRefused, SubjectNotFound
from cpniguard.legal import letters, production, transparency
from cpniguard.legal.status import BadTransition
from cpniguard.web.guards import actor_of, refused, staff_page


class DeliveryForm(forms.Form):
    to = forms.CharField(max_length=1000, label="Delivered to")
    how = forms.CharField(max_length=1000, label="How")


class PeriodForm(forms.Form):
    start = forms.DateField(label="From (UTC day)")
    end = forms.DateField(label="To (UTC day, included)")


def _step(request: HttpRequest, reference: str, doing: str,
          run: Callable[[], dict[str, Any]], done: str) -> HttpResponse:
    back = HttpResponseRedirect(reverse("web:legal_detail", args=[reference]))
    try:
        run()
    except AccessRefused as error:
        if not error.decision.rule.startswith("deny:legal-workflow"):
            return refused(request, error, doing=doing, options=[])
        messages.error(request, f"Not done: {error.decision.reason}")
        return back
    except BadTransition as trouble:
        messages.error(request, f"Not done: {trouble}")
        return back
    except SubjectNotFound:
        raise Http404("no such legal request") from None
    messages.success(request, done)
    return back


@staff_page  # first: a visitor who is not signed in goes to the sign-in page
@require_POST
def legal_produce(request: HttpRequest, reference: str) -> HttpResponse:
    return _step(request, reference, "produce a legal request",
                 lambda: production.produce(actor_of(request), reference),
                 "Produced: the package is sealed.")


@staff_page  # first: a visitor who is not signed in goes to the sign-in page
@require_POST
def legal_deliver(request: HttpRequest, reference: str) -> HttpResponse:
    form = DeliveryForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not delivered: say to whom and how.")
        return HttpResponseRedirect(reverse("web:legal_detail", args=[reference]))
    return _step(request, reference, "record a delivery",
                 lambda: production.deliver(actor_of(request), reference,
                                            to=form.cleaned_data["to"],
                                            how=form.cleaned_data["how"]),
                 "Delivery recorded in the disclosure log.")


@require_GET
@staff_page
def legal_letter(request: HttpRequest, reference: str) -> HttpResponse:
    try:
        name, pdf = letters.letter_for(actor_of(request), reference)
    except AccessRefused as error:
        return refused(request, error, doing="read a legal request's letter", options=[])
    except SubjectNotFound:
        raise Http404("no such legal request") from None
    except BadTransition as trouble:
        messages.error(request, str(trouble))
        return HttpResponseRedirect(reverse("web:legal_detail", args=[reference]))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@staff_page
def legal_transparency(request: HttpRequest) -> HttpResponse:
    today = timezone.now().astimezone(UTC).date()
    form = PeriodForm(request.GET or {"start": date(today.year, 1, 1).isoformat(),
                                      "end": today.isoformat()})
    if not form.is_valid() or form.cleaned_data["end"] < form.cleaned_data["start"]:
        return render(request, "web/legal_transparency.html", {"form": form, "result": None},
                      status=400 if request.GET else 200)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    try:
        result = transparency.report(actor_of(request), start, end)
    except AccessRefused as error:
        return refused(request, error, doing="see the transparency report", options=[])
    if request.GET.get("format") == "csv":
        response = HttpResponse(transparency.as_csv(result), content_type="text/csv")
        response["Content-Disposition"] = (f'attachment; filename="transparency-{start}-'
                                           f'{end}.csv"')
        return response
    return render(request, "web/legal_transparency.html", {
        "form": form, "result": result, "chart": transparency.chart(result),
        "outcomes": transparency.OUTCOMES, "start": start, "end": end,
        "days": (end - start + timedelta(days=1)).days})
