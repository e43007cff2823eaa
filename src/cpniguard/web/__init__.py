"""The staff web UI: Django templates and htmx, thin over the domain services."""
