from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "cpniguard.web"
    label = "web"
    verbose_name = "Web UI"
