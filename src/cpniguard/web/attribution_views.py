"""The attribution page: who held an address (and port) at an instant, one question or a CSV
file of them.

Thin over `connectivity.answers`, as the CLI and the API are: the page reads the form, calls
`answer_one` / `answer_batch` and renders the dictionary they return, so the same staff
member gets the same answer, or the same refusal, on every channel. A question the service
cannot read (a time without an offset or zone) is shown with the service's own message and
is not audited; a refusal is the usual 403 page, audited by the gate.

The forms are POSTed: addresses and instants from legal requests stay out of URLs, browser
history and access logs. The batch answer is the CLI's CSV (`write_batch`), downloaded.
"""

from __future__ import annotations

import io
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from cpniguard.access.gate import AccessRefused
from cpniguard.connectivity.answers import (
    DEFAULT_SKEW,
    MAX_BATCH_ROWS,
    SUBSCRIBER_CATEGORIES,
    Ask,
    answer_batch,
    answer_one,
)
from cpniguard.connectivity.attribute_command import read_batch, write_batch
from cpniguard.connectivity.question import Usage
from cpniguard.policy import Action
from cpniguard.web.forms import PurposeForm
from cpniguard.web.guards import (
    PurposeOption,
    actor_of,
    may,
    purpose_label,
    purpose_options,
    refused,
    staff_of,
    staff_page,
)

# 100,000 rows of `id,address,port,at` are about 6 MB; anything far larger is not a batch
# of questions, and must not fill the server's temporary directory.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
ANSWER_SLOT = "#attribution-answer"
DOING_ONE = "attribute an address to a subscriber"
DOING_BATCH = "answer a batch of attribution questions"


def attribution_options(role: str) -> list[PurposeOption]:
    """Purposes `role` may declare to read connectivity logs; the page and the menu use it."""
    return purpose_options(role, Action.READ, {"connectivity_logs"})


class _PurposeAndSkewForm(PurposeForm):
    skew = forms.FloatField(
        label="Skew (seconds)", required=False, initial=DEFAULT_SKEW,
        widget=forms.NumberInput(attrs={"step": "any", "min": "0"}))

    def skew_seconds(self) -> float:
        value = self.cleaned_data.get("skew")
        return DEFAULT_SKEW if value is None else float(value)


class AttributionForm(_PurposeAndSkewForm):
    address = forms.CharField(label="Address[:port]", max_length=64, widget=forms.TextInput(
        attrs={"placeholder": "192.0.2.10, 203.0.113.7:40001 or [2001:db8::1]:443",
               "autocomplete": "off", "spellcheck": "false"}))
    at = forms.CharField(label="Instant", max_length=80, widget=forms.TextInput(
        attrs={"placeholder": "2017-03-29T14:05:03-07:00 or "
               "2017-03-29 14:05:03 America/Los_Angeles",
               "autocomplete": "off", "spellcheck": "false"}))


class BatchForm(_PurposeAndSkewForm):
    questions = forms.FileField(
        label="CSV file", help_text="Columns address and at; optionally port and id.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))


def _forms(options: list[PurposeOption], one: AttributionForm | None = None,
           batch: BatchForm | None = None) -> dict[str, Any]:
    return {
        "form": one or AttributionForm(options=options),
        # Its own ids: both forms are on one page.
        "batch_form": batch or BatchForm(options=options, auto_id="batch_%s"),
        "options": options,
    }


def _shown(role: str, purpose: str) -> set[str]:
    """Subscriber categories this purpose covers: a null value outside them is masked, one
    inside them is simply not on file. A hint for the wording only; the service decided."""
    return {c for c in SUBSCRIBER_CATEGORIES if may(role, Action.READ, purpose, c)}


def _page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    htmx = request.headers.get("HX-Request") == "true"
    template = "web/partials/attribution_answer.html" if htmx else "web/attribution.html"
    return render(request, template, context, status=status)


def _refused(request: HttpRequest, error: AccessRefused, doing: str,
             options: list[PurposeOption]) -> HttpResponse:
    response = refused(request, error, doing=doing, options=options,
                       retry_url=reverse("web:attribution"))
    if response.has_header("HX-Retarget"):
        response["HX-Retarget"] = ANSWER_SLOT
    return response


def _unreadable(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    # htmx swaps 422 (not 400) into the page, as the interaction form does.
    htmx = request.headers.get("HX-Request") == "true"
    return _page(request, {**context, "invalid": True}, status=422 if htmx else 400)


@require_http_methods(["GET", "POST"])
@staff_page
def attribution(request: HttpRequest) -> HttpResponse:
    role = staff_of(request).role
    options = attribution_options(role)
    if request.method == "GET":
        return render(request, "web/attribution.html", _forms(options))
    form = AttributionForm(request.POST, options=options)
    context = _forms(options, one=form)
    if not form.is_valid():
        return _unreadable(request, context)
    data = form.cleaned_data
    purpose, reference = data["purpose"].strip(), data["reference"].strip() or None
    try:
        result = answer_one(actor_of(request), Ask(data["address"], data["at"]),
                            purpose=purpose, reference=reference,
                            skew_seconds=form.skew_seconds())
    except Usage as error:
        form.add_error(None, str(error))
        return _unreadable(request, context)
    except AccessRefused as error:
        return _refused(request, error, DOING_ONE, options)
    context.update(result=result, purpose=purpose, purpose_label=purpose_label(purpose),
                   reference=reference or "", shown=_shown(role, purpose))
    return _page(request, context)


def _asks_of(upload: UploadedFile[bytes]) -> list[Ask]:
    """The CLI's own CSV reader, so a file gets the same row labels and errors on both."""
    with tempfile.TemporaryDirectory(prefix="cpniguard-batch-") as directory:
        path = Path(directory) / "questions.csv"
        with path.open("wb") as copy:
            for chunk in upload.chunks():
                copy.write(chunk)
        try:
            return read_batch(path)
        except Usage as error:
            raise Usage(str(error).replace(str(path), upload.name or "the file")) from None
        except UnicodeDecodeError:
            raise Usage("the file is not UTF-8 text") from None


@require_http_methods(["GET", "POST"])
@staff_page
def attribution_batch(request: HttpRequest) -> HttpResponse:
    role = staff_of(request).role
    options = attribution_options(role)
    if request.method == "GET":
        return render(request, "web/attribution.html", {**_forms(options), "batch_open": True})
    form = BatchForm(request.POST, request.FILES, options=options, auto_id="batch_%s")
    context = {**_forms(options, batch=form), "batch_open": True}
    if not form.is_valid():
        return render(request, "web/attribution.html", context, status=400)
    upload: UploadedFile[bytes] = form.cleaned_data["questions"]
    data = form.cleaned_data
    try:
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise Usage(f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB; split it")
        asks = _asks_of(upload)
        if len(asks) > MAX_BATCH_ROWS:
            raise Usage(f"at most {MAX_BATCH_ROWS:,} rows per batch (got {len(asks):,}); "
                        "split the file")
        results = answer_batch(actor_of(request), asks, purpose=data["purpose"].strip(),
                               reference=data["reference"].strip() or None,
                               skew_seconds=form.skew_seconds())
    except Usage as error:
        form.add_error(None, str(error))
        return render(request, "web/attribution.html", context, status=400)
    except AccessRefused as error:
        return _refused(request, error, DOING_BATCH, options)
    out = io.StringIO()
    write_batch(results, "csv", out)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="attribution-{stamp}.csv"'
    return response
