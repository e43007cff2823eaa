"""Handing a sealed package's manifest to the custodian who will deliver it.

The manifest names every file of the package with its SHA-256; its own SHA-256 is recorded
on the production, in the audit trail and in the disclosure log, so whoever receives the
package can check it against what the desk recorded. Reading it is a `read` of the request
under its case number, through the gate like the request itself, and the bytes are checked
against the recorded hash before they leave: a manifest altered on disk is never handed out.
"""

from __future__ import annotations

from pathlib import Path

from cpniguard.access import Actor, access
from cpniguard.access.gate import SubjectNotFound
from cpniguard.legal.desk import CATEGORIES, PURPOSE, RESOURCE, subject_of
from cpniguard.legal.models import LegalRequest, Production
from cpniguard.legal.package import MANIFEST, PackageDamaged, sha256
from cpniguard.legal.status import BadTransition
from cpniguard.policy import Action


def manifest_of(actor: Actor, reference: str) -> tuple[str, bytes]:
    """(file name, bytes) of the request's package manifest. Raises SubjectNotFound for no
    such request, BadTransition while nothing is sealed, PackageDamaged (audited as an
    error) when the file no longer matches its recorded hash."""
    with access(actor, Action.READ, resource=RESOURCE, purpose=PURPOSE, reference=reference,
                subject=subject_of(reference), categories=CATEGORIES) as permit:
        request = LegalRequest.objects.filter(reference=reference).first()
        if request is None:
            raise SubjectNotFound(f"no legal request {reference}")
        made = Production.objects.filter(request=request).first()
        if made is None or made.sealed is None or not made.directory:
            raise BadTransition(f"{reference} has no sealed package yet")
        data = (Path(made.directory) / MANIFEST).read_bytes()
        if sha256(data) != made.manifest_sha256:
            raise PackageDamaged(f"the manifest of {reference} no longer has the SHA-256 "
                                 f"recorded when it was sealed ({made.manifest_sha256})")
        permit.touched(["legal_request.package_manifest"])
    return f"{reference}-manifest.json", data
