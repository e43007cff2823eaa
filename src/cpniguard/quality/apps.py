from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "cpniguard.quality"
    label = "quality"
    verbose_name = "Service quality"
