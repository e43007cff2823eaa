"""The legal desk's pages for the custodian and counsel: the list and one request.

Thin over `cpniguard.legal.desk`: the service asks the policy and audits every view, a refusal
becomes the 403 page. The intake form is in `legal_intake_views`, the workflow buttons of a
request's page in `legal_workflow_views`, production, delivery and letters in
`legal_answer_views`.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cpniguard.access.gate import AccessRefused, SubjectNotFound
from cpniguard.legal.desk import PURPOSE, list_requests, person_of, show_request
from cpniguard.legal.status import Status
from cpniguard.policy import Action
from cpniguard.web.guards import actor_of, may, refused, staff_of, staff_page
from cpniguard.web.legal_workflow_views import DESK, approval_slots, steps_for


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
    for row in rows:  # the list says how late, not a negative number of days left
        row["days_late"] = -row["days_left"] if row["overdue"] else None
    return render(request, "web/legal_list.html", {
        "rows": rows, "status": status, "statuses": [str(s) for s in Status],
        "overdue": sum(r["overdue"] for r in rows),
        "may_take_in": may(staff_of(request).role, Action.IMPORT, PURPOSE, DESK)})


@require_GET
@staff_page
def legal_detail(request: HttpRequest, reference: str) -> HttpResponse:
    actor = actor_of(request)
    try:
        view = show_request(actor, reference)
    except AccessRefused as error:
        return refused(request, error, doing="open a legal request", options=[])
    except SubjectNotFound:
        raise Http404("no such legal request") from None
    return render(request, "web/legal_detail.html", {
        "request_view": view, "steps": steps_for(actor.role, person_of(actor), view),
        "approval_slots": approval_slots(view)})
