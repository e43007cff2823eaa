"""Export bundles check themselves offline: verify_bundle.py runs in an isolated interpreter
with Django and cpniguard made unimportable, passes an intact bundle and fails an edited one."""

from __future__ import annotations

import ast
import getpass
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.audit import verifier
from cpniguard.audit.models import AuditEntry, Checkpoint

pytestmark = pytest.mark.django_db

# Run the bundle's script as an auditor would, but with django and cpniguard blocked, so any
# import of either (even an indirect one) fails the run.
BLOCKED = ("import runpy, sys; sys.modules.update(django=None, cpniguard=None); "
           "sys.argv = ['verify_bundle.py', '.']; "
           "runpy.run_path('verify_bundle.py', run_name='__main__')")


def offline(bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", "-c", BLOCKED], cwd=bundle, env={},
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def export(make_staff: Callable[..., StaffUser], run_cli: Callable[..., tuple[int, str]],
           tmp_path: Path, trail: int) -> Path:
    make_staff("auditor", os_username=getpass.getuser())
    bundle = tmp_path / "bundle"
    code, out = run_cli("audit", "export", str(bundle), "--purpose", "compliance_review",
                        "--reference", "REV-2026-01")
    assert code == 0, out
    assert f"exported {trail} entries" in out
    return bundle


def test_the_verifier_imports_nothing_but_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(Path(verifier.__file__).read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)}
    assert modules <= {"__future__", "hashlib", "json", "sys", "collections", "pathlib",
                       "typing", "cryptography"}, modules


def test_an_exported_bundle_verifies_offline(export: Path, trail: int) -> None:
    assert sorted(p.name for p in export.iterdir()) == [
        "README.txt", "checkpoints.json", "entries.jsonl", "public_key.pem", "verify_bundle.py"]
    assert (export / "verify_bundle.py").read_bytes() == Path(verifier.__file__).read_bytes()
    assert oct(export.stat().st_mode & 0o777) == "0o700"
    lines = (export / "entries.jsonl").read_text().splitlines()
    assert len(lines) == trail
    first = json.loads(lines[0])
    assert first["seq"] == 1
    assert first["entry_hash"] == AuditEntry.objects.get(seq=1).entry_hash
    manifest = json.loads((export / "checkpoints.json").read_text())
    assert [cp["tree_size"] for cp in manifest["checkpoints"]] == [20, trail]
    assert manifest["checkpoints"][-1]["root_hash"] in (export / "README.txt").read_text()
    result = offline(export)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"OK: the bundle is intact ({trail} entries, 2 checkpoints)" in result.stdout
    assert "inclusion: entry #16 in the tree of 30" in result.stdout
    # The export itself is on the record, after the entries it exported.
    last = AuditEntry.objects.order_by("-seq").first()
    assert last is not None
    assert (last.event, last.outcome, last.reference) == ("audit:trail:export", "allowed",
                                                          "REV-2026-01")
    assert Checkpoint.objects.filter(tree_size=trail).exists()


def edit_line(bundle: Path, index: int, **changes: object) -> None:
    path = bundle / "entries.jsonl"
    lines = path.read_text().splitlines()
    lines[index] = json.dumps({**json.loads(lines[index]), **changes})
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda b: edit_line(b, 11, purpose="billing"), "entry #12: content does not match"),
    (lambda b: edit_line(b, 11, categories="account"), "entry #12: content does not match"),
    (lambda b: edit_line(b, 29, seq=31), "entry #30: missing (the next entry is #31)"),
    (lambda b: (b / "entries.jsonl").write_text(
        "".join((b / "entries.jsonl").read_text().splitlines(True)[:25])),
     "entry #26: missing (checkpoint 30 covers it)"),
])
def test_an_edited_bundle_fails(export: Path, edit: Callable[[Path], None],
                                expected: str) -> None:
    edit(export)
    result = offline(export)
    assert result.returncode == 1
    assert expected in result.stdout, result.stdout


def test_a_bundle_with_a_forged_checkpoint_fails(export: Path) -> None:
    path = export / "checkpoints.json"
    manifest = json.loads(path.read_text())
    manifest["checkpoints"][0]["root_hash"] = "ab" * 32
    path.write_text(json.dumps(manifest))
    result = offline(export)
    assert result.returncode == 1
    assert "checkpoint 20 (entries 1..20): signature does not verify" in result.stdout


def test_export_needs_an_auditor_and_a_new_directory(
        make_staff: Callable[..., StaffUser], run_cli: Callable[..., tuple[int, str]],
        tmp_path: Path, trail: int) -> None:
    code, out = run_cli("audit", "export", str(tmp_path / "a"), "--purpose",
                        "compliance_review")
    assert code == 3
    assert "refused" in out
    make_staff("support", os_username=getpass.getuser())
    code, out = run_cli("audit", "export", str(tmp_path / "a"), "--purpose",
                        "compliance_review")
    assert code == 3
    assert not (tmp_path / "a").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("x")
    StaffUser.objects.filter(role="support").update(role="compliance")
    code, out = run_cli("audit", "export", str(tmp_path / "b"), "--purpose",
                        "compliance_review")
    assert code == 2
    assert "not empty" in out
