"""Taking a legal request in from the web: the custodian's intake form.

The form turns what was typed into a request document and `legal.intake.take_in` takes it in,
exactly as for `cpniguard legal import` and `POST /api/legal/requests/`: same case numbers,
same findings, same audit entry (`legal:request:import`), the channel aside. Only a role the
policy lets take requests in sees the form; anyone else gets the refusal page, and the
refusal is audited by the gate as an `import` refused, the same entry a refused API intake
writes, whether the form was only opened or also sent.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from cpniguard.access import Actor, access
from cpniguard.access.gate import AccessRefused
from cpniguard.legal.attachments import AttachmentDamaged
from cpniguard.legal.desk import CATEGORIES, PURPOSE, RESOURCE
from cpniguard.legal.intake import BadRequestFile, take_in
from cpniguard.policy import AccessRequest, Action, current_policy
from cpniguard.web.guards import actor_of, refused, staff_page
from cpniguard.web.legal_forms import IntakeForm


def ensure_intake_allowed(actor: Actor) -> None:
    """Raise AccessRefused, audited by the gate, unless the policy lets `actor` take a
    request in. An allowed check writes nothing: nothing has been taken in yet; the intake
    itself writes its entry."""
    question = AccessRequest(actor.role, PURPOSE, Action.IMPORT, CATEGORIES, None)
    if current_policy().decide(question).allowed:
        return
    with access(actor, Action.IMPORT, resource=RESOURCE, purpose=PURPOSE, reference=None,
                subject="legal_request:new", categories=CATEGORIES):
        pass  # not reached: the gate refuses, audits the refusal and raises


def understood(view: dict[str, Any]) -> str:
    """The instants the desk understood, in UTC, to set beside what was typed."""
    parts = []
    if view.get("served_at"):
        parts.append(f"served {view['served_at']}")
    span = view.get("date_range") or {}
    if span.get("from") or span.get("to"):
        parts.append(f"date range {span.get('from') or '?'} .. {span.get('to') or '?'}")
    parts += [f"target {n} at {t['instant_utc']}"
              for n, t in enumerate(view.get("targets", []), start=1) if t.get("instant_utc")]
    return "Understood in UTC: " + "; ".join(parts) + "." if parts else ""


@staff_page
@require_http_methods(["GET", "POST"])
def legal_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    try:
        ensure_intake_allowed(actor)
    except AccessRefused as error:
        return refused(request, error, doing="take in a legal request", options=[])
    policy = current_policy()
    if request.method != "POST":
        form = IntakeForm(policy=policy)
        return render(request, "web/legal_intake.html", {"form": form})
    form = IntakeForm(request.POST, request.FILES, policy=policy)
    if form.is_valid():
        try:
            view = take_in(actor, form.document(), form.incoming())
        except BadRequestFile as trouble:
            form.add_error(None, str(trouble))
        except AttachmentDamaged as damaged:  # audited as an error by the gate
            form.add_error("attachments", f"{damaged}; nothing was taken in: tell the "
                           "administrator, the kept copy must be restored first")
        except AccessRefused as error:
            return refused(request, error, doing="take in a legal request", options=[])
        else:
            findings = view["findings"]
            errors = sum(f["severity"] == "error" for f in findings)
            warnings = sum(f["severity"] == "warning" for f in findings)
            messages.success(request, f"Taken in as {view['reference']}: {errors} error(s), "
                             f"{warnings} warning(s), {len(view['attachments'])} "
                             f"attachment(s). {understood(view)}".strip())
            return HttpResponseRedirect(reverse("web:legal_detail",
                                                args=[view["reference"]]))
    return render(request, "web/legal_intake.html", {"form": form}, status=400)
