"""The legal desk's pages for the custodian and counsel: the list and one request (read-only).

Thin over `cpniguard.legal.desk`: the service asks the policy and audits every view, a refusal
becomes the 403 page. Intake and the workflow steps are on the CLI and the API for now.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cpniguard.access.gate import AccessRefused, SubjectNotFound
from cpniguard.legal.desk import list_requests, show_request
from cpniguard.legal.status import Status
from cpniguard.web.guards import actor_of, refused, staff_page


@require_GET
@staff_page
def legal_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in Status.__members__.values():
        status = ""
    try:
        rows = list_requests(actor_of(request), status=status or None)
    except AccessRefused as error:
        return refused(request, error, doing="see the legal desk", options=[])
    return render(request, "web/legal_list.html", {
        "rows": rows, "status": status, "statuses": [str(s) for s in Status]})


@require_GET
@staff_page
def legal_detail(request: HttpRequest, reference: str) -> HttpResponse:
    try:
        view = show_request(actor_of(request), reference)
    except AccessRefused as error:
        return refused(request, error, doing="open a legal request", options=[])
    except SubjectNotFound:
        raise Http404("no such legal request") from None
    return render(request, "web/legal_detail.html", {"request_view": view})
