"""The disclosure log is append-only and kept: the database refuses any UPDATE of a row, and a
DELETE before the row's keep_until (the policy's disclosure_log retention), whoever asks."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLE = "legal_disclosure"

SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'disclosure log is append-only: UPDATE refused'); END;""",
    # Django keeps UTC instants as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text in SQLite, which
    # orders like datetime('now').
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_kept BEFORE DELETE ON {TABLE}
        WHEN OLD.keep_until > datetime('now')
        BEGIN SELECT RAISE(ABORT, 'disclosure log: kept until its retention ends'); END;""",
]
SQLITE_REVERSE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update;",
                  f"DROP TRIGGER IF EXISTS {TABLE}_kept;"]

POSTGRES = [
    """CREATE OR REPLACE FUNCTION cpniguard_disclosure_log_kept() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'UPDATE' THEN
           RAISE EXCEPTION 'disclosure log is append-only: UPDATE refused'
             USING ERRCODE = 'insufficient_privilege';
         END IF;
         IF OLD.keep_until > now() THEN
           RAISE EXCEPTION 'disclosure log: kept until its retention ends'
             USING ERRCODE = 'insufficient_privilege';
         END IF;
         RETURN OLD;
       END; $$ LANGUAGE plpgsql;""",
    f"""CREATE TRIGGER {TABLE}_kept BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION cpniguard_disclosure_log_kept();""",
    f"""CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION cpniguard_audit_append_only();""",
]
POSTGRES_REVERSE = [
    f"DROP TRIGGER IF EXISTS {TABLE}_kept ON {TABLE};",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE};",
    "DROP FUNCTION IF EXISTS cpniguard_disclosure_log_kept();",
]


def _run(statements: list[str], schema_editor: BaseDatabaseSchemaEditor) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    _run(POSTGRES if vendor == "postgresql" else SQLITE, schema_editor)


def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    _run(POSTGRES_REVERSE if vendor == "postgresql" else SQLITE_REVERSE, schema_editor)


class Migration(migrations.Migration):
    # The TRUNCATE guard reuses the audit trail's function.
    dependencies = [("legal", "0002_production_disclosures"),
                    ("audit", "0002_append_only_triggers")]
    operations = [migrations.RunPython(forwards, backwards)]
