from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "cpniguard.api"
    label = "api"
    verbose_name = "REST API"
