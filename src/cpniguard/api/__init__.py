"""The REST API (DRF + OpenAPI): the same services, decisions and audit as the UI."""
