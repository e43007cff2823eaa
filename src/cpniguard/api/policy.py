"""The policy in force, and the explain tool.

`GET /api/policy/` shows every staff member the rules they work under: the same file the
published privacy notice is rendered from. `POST /api/policy/decide/` answers "would the policy
let me do this, and under which rule?" for the caller's own role. It reads no customer data and
reveals nothing `GET /api/policy/` does not already show, so it is not audited; it cannot be
used to ask on behalf of another role.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cpniguard.api.errors import refusal
from cpniguard.api.purpose import REFERENCE_MAX
from cpniguard.api.serializers import INVALID, REFUSED, UNAUTHENTICATED
from cpniguard.policy import AccessRequest, Action, Policy, current_policy

Shape = serializers.Serializer[dict[str, Any]]
TAG = "policy"


def describe(policy: Policy) -> dict[str, Any]:
    org = policy.organization
    return {
        "version": policy.version,
        "organization": {"name": org.name, "legal_name": org.legal_name,
                         "effective": org.effective, "privacy_contact": org.privacy_contact,
                         "phone": org.phone},
        "roles": [{"id": r.id, "label": r.label, "second_factor": r.second_factor}
                  for r in policy.roles.values()],
        "purposes": [{"id": p.id, "label": p.label, "notice": p.notice,
                      "forbidden": p.forbidden, "third_party": p.third_party}
                     for p in policy.purposes.values()],
        "categories": [{"id": c.id, "label": c.label, "notice": c.notice, "cpni": c.cpni}
                       for c in policy.categories.values()],
        "grants": [{"id": g.id, "role": g.role, "purpose": g.purpose,
                    "actions": sorted(a.value for a in g.actions),
                    "categories": sorted(g.categories), "reference": g.reference}
                   for g in policy.grants],
        "references": [{"id": k.id, "label": k.label, "pattern": k.pattern.pattern,
                        "example": k.example} for k in policy.references.values()],
        "retention": dict(policy.retention),
    }


def labelled(name: str, **more: serializers.Field[Any, Any, Any, Any]) -> Any:
    # inline_serializer, because "label" is also a Field attribute and cannot be declared.
    return inline_serializer(name, many=True, fields={
        "id": serializers.CharField(), "label": serializers.CharField(), **more,
    })


RoleShape = labelled("PolicyRole", second_factor=serializers.BooleanField())
PurposeShape = labelled("PolicyPurpose", notice=serializers.CharField(),
                        forbidden=serializers.BooleanField(),
                        third_party=serializers.BooleanField())
CategoryShape = labelled("PolicyCategory", notice=serializers.CharField(),
                         cpni=serializers.BooleanField())
ReferenceShape = labelled(
    "PolicyReferenceKind", example=serializers.CharField(),
    pattern=serializers.CharField(help_text="A regular expression the whole reference matches."),
)


class PolicyGrant(Shape):
    id = serializers.CharField()
    role = serializers.CharField()
    purpose = serializers.CharField()
    # Plain strings: the same values as DecideRequest.action, whose enum the schema names once.
    actions = serializers.ListField(
        child=serializers.CharField(), help_text=", ".join(a.value for a in Action)
    )
    categories = serializers.ListField(child=serializers.CharField())
    reference = serializers.CharField(allow_null=True, help_text="Reference kind required.")


class PolicyOrganization(Shape):
    name = serializers.CharField()
    legal_name = serializers.CharField()
    effective = serializers.CharField()
    privacy_contact = serializers.CharField()
    phone = serializers.CharField()


class PolicyDocument(Shape):
    version = serializers.CharField()
    organization = PolicyOrganization()
    roles = RoleShape
    purposes = PurposeShape
    categories = CategoryShape
    grants = PolicyGrant(many=True)
    references = ReferenceShape
    retention = serializers.DictField(child=serializers.IntegerField(), help_text="Days kept.")


class DecideRequest(Shape):
    role = serializers.CharField(
        required=False, max_length=32,
        help_text="Optional; if given it must be your own role: the tool answers for you.",
    )
    purpose = serializers.CharField(max_length=64)
    action = serializers.ChoiceField(choices=list(Action))
    categories = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=False,
        max_length=64,
        help_text="Data categories asked for; all the policy's categories if left out.",
    )
    reference = serializers.CharField(max_length=REFERENCE_MAX, required=False, allow_blank=True,
                                      default="")


class PolicyDecision(Shape):
    allowed = serializers.BooleanField()
    rule = serializers.CharField()
    reason = serializers.CharField()
    granted = serializers.ListField(child=serializers.CharField())
    masked = serializers.ListField(child=serializers.CharField())
    role = serializers.CharField()
    policy_version = serializers.CharField()


class PolicyInForce(APIView):
    @extend_schema(tags=[TAG], operation_id="policy_read", summary="The policy in force",
                   responses={200: PolicyDocument, 401: UNAUTHENTICATED})
    def get(self, request: Request) -> Response:
        return Response(describe(current_policy()))


class PolicyDecide(APIView):
    @extend_schema(
        tags=[TAG], operation_id="policy_decide", request=DecideRequest,
        summary="Explain what the policy would decide for your role",
        description="Reads no customer data and is not audited. A refusal is a normal answer "
        "(200 with allowed=false); asking for another role is refused with 403.",
        responses={200: PolicyDecision, 400: INVALID, 401: UNAUTHENTICATED, 403: REFUSED},
        examples=[OpenApiExample(
            "Support reading for troubleshooting", request_only=True,
            value={"purpose": "troubleshooting", "action": "read",
                   "categories": ["name", "billing_info"], "reference": "TKT-104233"},
        )],
    )
    def post(self, request: Request) -> Response:
        serializer = DecideRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data
        own_role = getattr(request.user, "role", "")
        if body.get("role") not in (None, own_role):
            return refusal(f"the explain tool answers for your own role ({own_role!r}) only",
                           "explain:own-role-only")
        policy = current_policy()
        categories = body.get("categories")
        decision = policy.decide(AccessRequest(
            own_role, body["purpose"], Action(body["action"]),
            frozenset(categories if categories is not None else policy.categories),
            body["reference"] or None,
        ))
        return Response({"allowed": decision.allowed, "rule": decision.rule,
                         "reason": decision.reason, "granted": sorted(decision.granted),
                         "masked": sorted(decision.masked), "role": own_role,
                         "policy_version": policy.version})
