from django.apps import AppConfig


class ConnectivityConfig(AppConfig):
    name = "cpniguard.connectivity"
    label = "connectivity"
    verbose_name = "Connectivity logs"
