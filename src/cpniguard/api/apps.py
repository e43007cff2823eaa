from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "cpniguard.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Registers the bearer-token scheme with the OpenAPI generator.
        from cpniguard.api import schema  # noqa: F401
