from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "cpniguard.audit"
    label = "audit"
    verbose_name = "Audit trail"
