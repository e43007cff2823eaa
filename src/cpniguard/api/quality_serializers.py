"""Request validation and response shapes of the service-quality endpoints.

The shapes document what `quality.services.network_report` and `subscriber_health` return;
the views pass those dictionaries through unchanged. A figure covering fewer than the policy's
k subscribers is `null` in the network report (the same rule the page and the CLI apply);
one subscriber's health, read under a ticket, is not suppressed.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cpniguard.api.purpose import DeclaredPurpose
from cpniguard.quality.network import RESOLUTIONS

Shape = serializers.Serializer[dict[str, Any]]
INSTANT_HELP = ("An instant with a UTC offset (2026-11-28T06:00:00-05:00) or a zone "
                "('2026-11-28 06:00 America/New_York'); the answer echoes it in UTC.")


# ---------------------------------------------------------------- requests
class NetworkQuery(DeclaredPurpose):
    since = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text=f"{INSTANT_HELP} Default: a day before `until`.")
    until = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text=f"{INSTANT_HELP} Default: now.")
    device = serializers.CharField(required=False, allow_blank=True, default="", max_length=200,
                                   help_text="One NAS, DHCP server or CGNAT box.")
    pop = serializers.CharField(required=False, allow_blank=True, default="", max_length=200,
                                help_text="One POP of network.toml: its devices together.")
    resolution = serializers.ChoiceField(
        choices=[("", "auto"), *((r, r) for r in RESOLUTIONS)], required=False,
        allow_blank=True, default="",
        help_text="Bucket size of the series; default: the finest that keeps 300 points.")


class HealthQuery(DeclaredPurpose):
    since = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text=f"{INSTANT_HELP} Default: seven days before "
                                  "`until`.")
    until = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text=f"{INSTANT_HELP} Default: now.")


# ---------------------------------------------------------------- responses
class GroupView(Shape):
    level = serializers.ChoiceField(choices=["network", "nas", "access", "pop"])
    device = serializers.CharField(help_text="The group's name: device, access device or POP.")
    # A field called "source" shadows Field.source in the stubs; DRF itself allows it.
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="The log sources its sessions came from.")
    sessions = serializers.IntegerField(allow_null=True)
    subscribers = serializers.IntegerField(allow_null=True)
    peak_active = serializers.IntegerField(allow_null=True)
    ends = serializers.DictField(child=serializers.IntegerField(allow_null=True),
                                 help_text="Sessions ended in the range: stop, nas-restart, "
                                 "no-stop (lost).")
    series = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField(allow_null=True)),
        help_text="One value per bucket of `buckets`: active, starts, ends_*, lease_churn.")


class IncidentEvidence(Shape):
    file = serializers.CharField()
    sha256 = serializers.CharField()
    line = serializers.IntegerField(required=False)
    closes = serializers.IntegerField(required=False)
    ends = serializers.IntegerField(required=False)


class IncidentRow(Shape):
    level = serializers.ChoiceField(choices=["nas", "pop"])
    group = serializers.CharField(help_text="The device, or the POP.")
    device = serializers.CharField(help_text="Same as `group` (kept for older clients).")
    devices = serializers.ListField(child=serializers.CharField(),
                                    help_text="Devices whose sessions ended in it.")
    source = serializers.CharField()  # type: ignore[assignment]  # as in GroupView
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    sessions = serializers.IntegerField(allow_null=True)
    subscribers = serializers.IntegerField(allow_null=True)
    active_before = serializers.IntegerField(allow_null=True)
    share = serializers.FloatField(allow_null=True)
    cause = serializers.ChoiceField(choices=["nas-restart", "port-block-release",
                                             "mass-disconnect"])
    reconnected = serializers.IntegerField(allow_null=True)
    evidence = IncidentEvidence(many=True)


class Decision(Shape):
    rule = serializers.CharField()
    purpose = serializers.CharField()
    reference = serializers.CharField(required=False)


class NetworkReport(Shape):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    device = serializers.CharField(allow_null=True)
    pop = serializers.CharField(allow_null=True)
    resolution_seconds = serializers.IntegerField()
    k = serializers.IntegerField(help_text="Figures covering fewer subscribers are null.")
    buckets = serializers.ListField(child=serializers.IntegerField(),
                                    help_text="Start of each bucket, Unix seconds UTC.")
    overall = GroupView(help_text="Everything in scope (the incident timeline's series).")
    devices = GroupView(many=True)
    pops = GroupView(many=True, help_text="Empty when network.toml declares no POP.")
    access_devices = GroupView(many=True, help_text="The busiest 50.")
    access_devices_total = serializers.IntegerField()
    incidents = IncidentRow(many=True)
    outage_rule = serializers.DictField()
    pools = serializers.ListField(child=serializers.DictField())
    port_blocks = serializers.DictField()
    top_disconnect_devices = serializers.ListField(child=serializers.DictField())
    not_recorded = serializers.DictField()
    plots = serializers.ListField(child=serializers.DictField())
    decision = Decision()


class HealthView(Shape):
    subscriber = serializers.DictField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    verdict = serializers.ChoiceField(choices=["good", "degraded", "poor", "unknown"])
    findings = serializers.ListField(child=serializers.DictField())
    sessions_per_day = serializers.ListField(child=serializers.DictField())
    lengths = serializers.DictField()
    ends = serializers.DictField()
    flags = serializers.DictField()
    addresses = serializers.ListField(child=serializers.DictField())
    sessions = serializers.ListField(child=serializers.DictField())
    plots = serializers.ListField(child=serializers.DictField())
    decision = Decision()
