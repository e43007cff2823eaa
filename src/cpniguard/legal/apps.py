from django.apps import AppConfig


class LegalConfig(AppConfig):
    name = "cpniguard.legal"
    label = "legal"
    verbose_name = "Legal process desk"
