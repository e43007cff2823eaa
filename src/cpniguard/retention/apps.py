from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "cpniguard.retention"
    label = "retention"
    verbose_name = "Retention and legal holds"
