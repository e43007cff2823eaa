"""The database itself refuses to rewrite the audit trail: UPDATE, DELETE (and on PostgreSQL
TRUNCATE) on the entry and checkpoint tables raise an error, whatever code asks."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLES = ("audit_auditentry", "audit_checkpoint")

SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table}
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: {op} refused'); END;"""
    for table in TABLES
    for op in ("UPDATE", "DELETE")
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {t}_no_{op};" for t in TABLES for op in ("update", "delete")
]

POSTGRES = [
    """CREATE OR REPLACE FUNCTION cpniguard_audit_append_only() RETURNS trigger AS $$
       BEGIN
         RAISE EXCEPTION 'audit trail is append-only: % refused on %', TG_OP, TG_TABLE_NAME
           USING ERRCODE = 'insufficient_privilege';
       END; $$ LANGUAGE plpgsql;""",
    *[
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION cpniguard_audit_append_only();"""
        for table in TABLES
    ],
    *[
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION cpniguard_audit_append_only();"""
        for table in TABLES
    ],
]
POSTGRES_REVERSE = [
    *[f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};" for t in TABLES],
    *[f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};" for t in TABLES],
    "DROP FUNCTION IF EXISTS cpniguard_audit_append_only();",
]


def _run(statements: list[str], schema_editor: BaseDatabaseSchemaEditor) -> None:
    for statement in statements:
        # params=None: the SQL is sent as is, so the % placeholders of RAISE stay PL/pgSQL's
        # instead of being read as psycopg parameters.
        schema_editor.execute(statement, params=None)


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    _run(POSTGRES if vendor == "postgresql" else SQLITE, schema_editor)


def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    _run(POSTGRES_REVERSE if vendor == "postgresql" else SQLITE_REVERSE, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
