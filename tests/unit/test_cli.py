"""The command line contract (DESIGN 8): exit codes, one-line errors, JSON, DB state."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import accounts, cli, inline_blobs, node_admin, tree
from davdrive.blobs import BlobStore
from davdrive.models import AppPassword, Category, Node, User
from davdrive.passwords import Passwords, token_hash
from davdrive.policy import SYSTEM
from davdrive.runtime import open_runtime
from davdrive.settings import Settings, load_settings


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads DAVDRIVE_* variables; the developer's own must not leak in."""
    for key in list(os.environ):
        if key.startswith("DAVDRIVE_") and key != "DAVDRIVE_STRICT":
            monkeypatch.delenv(key)


@dataclass
class Cli:
    data: Path
    passwords: Passwords
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: str, stdin: str | None = None, data: bool = True) -> Result:
        if stdin is not None:
            self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        argv = ["--data", str(self.data), *args] if data else list(args)
        code = cli.main(argv, passwords=self.passwords)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    @property
    def settings(self) -> Settings:
        return load_settings(None, {}, {"data_dir": str(self.data)})

    def db(self) -> Iterator[Session]:
        runtime = open_runtime(self.settings, self.passwords)
        try:
            with runtime.sessions() as session:
                yield session
        finally:
            runtime.close()

    def user(self, login: str) -> User | None:
        for session in self.db():
            return accounts.find_user(session, login)
        return None

    def category(self, slug: str) -> Category | None:
        for session in self.db():
            return session.scalars(select(Category).where(Category.slug == slug)).first()
        return None


@pytest.fixture
def run(
    tmp_path: Path,
    fast_passwords: Passwords,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    return Cli(tmp_path / "data", fast_passwords, capsys, monkeypatch)


@pytest.fixture
def ready(run: Cli) -> Cli:
    assert run("init").code == 0
    return run


def assert_one_line_error(result: Result, *words: str) -> None:
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("davdrive: error: "), result.err
    assert "Traceback" not in result.err
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"


# --- init ------------------------------------------------------------------------------------


def test_init_creates_data_folder_database_and_defaults(run: Cli) -> None:
    result = run("init")
    assert result.code == 0, result.err
    assert (run.data / "davdrive.sqlite3").is_file() and (run.data / "blobs").is_dir()
    assert "created category 'member'" in result.out
    cat = run.category("member")
    assert cat is not None and cat.is_default


def test_init_twice_is_fine(ready: Cli) -> None:
    again = ready("init")
    assert again.code == 0 and "already initialised" in again.out


def test_commands_before_init_fail_without_creating_anything(run: Cli) -> None:
    result = run("user", "list")
    assert_one_line_error(result, "init")
    assert not run.data.exists()


# --- configuration --------------------------------------------------------------------------


def test_every_config_error_is_reported_at_once_with_exit_2(run: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nport = 'eighty'\nthreads = 0\n", encoding="utf-8")
    result = run("--config", str(cfg), "init")
    assert result.code == 2
    assert "server.port" in result.err and "server.threads" in result.err
    assert len(result.err.strip().splitlines()) == 2, result.err
    assert "Traceback" not in result.err
    assert not run.data.exists(), "nothing is created when the configuration is wrong"


def test_config_file_from_environment_and_env_errors(
    run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[dav]\nmount = 'nope/'\n", encoding="utf-8")
    monkeypatch.setenv("DAVDRIVE_CONFIG", str(cfg))
    monkeypatch.setenv("DAVDRIVE_AUTH_CACHE_SECONDS", "soon")
    result = run("init")
    assert result.code == 2
    assert "dav.mount" in result.err and "DAVDRIVE_AUTH_CACHE_SECONDS" in result.err


def test_missing_config_file_is_a_config_error(run: Cli, tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "absent.toml"), "init")
    assert result.code == 2 and "file not found" in result.err


def test_usage_errors_exit_2(run: Cli) -> None:
    assert run("frobnicate").code == 2
    assert run("user", "add").code == 2
    assert run("category", "add", "x", "--documents", "all").code == 2
    assert run(data=False).code == 2


# --- serve ----------------------------------------------------------------------------------


def test_serve_maps_flags_to_settings_and_calls_the_server(
    ready: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Settings] = []

    def fake_serve(settings: Settings) -> int:
        seen.append(settings)
        return 7

    monkeypatch.setattr("davdrive.serve_command.serve", fake_serve)
    result = ready("serve", "--host", "0.0.0.0", "--port", "9123", "--threads", "4",
                   "--workers", "3")
    assert result.code == 7
    (settings,) = seen
    assert (settings["server.host"], settings["server.port"], settings["server.threads"]) == (
        "0.0.0.0", 9123, 4)
    assert settings["server.workers"] == 3  # --workers: processes (issue 12)
    assert settings.data_dir == ready.data.resolve()


def test_serve_flag_errors_are_config_errors(ready: Cli, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x", encoding="utf-8")
    result = ready("serve", "--port", "70000", "--threads", "x", "--workers", "0",
                   "--tls-cert", str(cert))
    assert result.code == 2
    for name in ("server.port", "server.threads", "server.workers", "tls_key"):
        assert name in result.err, result.err
    missing = ready("serve", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "no.pem"))
    assert missing.code == 2 and "no.pem" in missing.err


# --- categories -----------------------------------------------------------------------------


def test_category_add_set_and_list_json(ready: Cli) -> None:
    assert ready("category", "add", "board", "--label", "Board", "--documents", "write",
                 "--members", "read", "--no-delete", "--exclude-types", "receipt").code == 0
    assert ready("category", "set", "board", "--hidden", "--config", "--default").code == 0
    items = ready("category", "list", "--json").json
    assert [c["slug"] for c in items] == ["admin", "board", "former", "member", "office"]
    board = next(c for c in items if c["slug"] == "board")
    assert board == {
        "slug": "board", "label": "Board", "description": "", "hidden": True, "login": True,
        "documents": "write", "members": "read", "config": True, "may_delete": False,
        "excluded_doc_types": ["receipt"], "is_default": True, "users": 0,
    }
    assert [c["slug"] for c in items if c["is_default"]] == ["board"]
    text = ready("category", "list")
    assert text.code == 0 and "board" in text.out and "Board" in text.out


def test_category_with_unknown_doc_type_is_refused_and_not_written(ready: Cli) -> None:
    result = ready("category", "add", "staff", "--exclude-types", "minutes,payroll")
    assert_one_line_error(result, "payroll")
    assert ready.category("staff") is None


def test_category_set_without_options_or_unknown_slug_fails(ready: Cli) -> None:
    assert_one_line_error(ready("category", "set", "member"), "nothing to change")
    assert_one_line_error(ready("category", "set", "ghost", "--label", "x"), "ghost")


# --- users -----------------------------------------------------------------------------------


def test_user_add_with_password_from_stdin(ready: Cli) -> None:
    result = ready("user", "add", "Treasurer", "--category", "office", "--degree", "3",
                   "--hours", "mon-fri 8:00-19:00", "--expires", "2030-06-30",
                   "--password-stdin", stdin="a long secret\nignored\n")
    assert result.code == 0, result.err
    assert "a long secret" not in result.out
    user = ready.user("treasurer")
    assert user is not None and user.login == "Treasurer" and user.degree == 3
    assert user.login_hours == "mon-fri 08:00-19:00" and user.expires_at is not None
    assert ready.passwords.verify(user.password_hash, "a long secret")


def test_user_add_without_password_prints_a_generated_one(ready: Cli) -> None:
    result = ready("user", "add", "carol")
    assert result.code == 0, result.err
    password = next(
        line.split(": ", 1)[1] for line in result.out.splitlines() if line.startswith("password")
    )
    user = ready.user("carol")
    assert user is not None and user.category.slug == "member"
    assert ready.passwords.verify(user.password_hash, password)


def test_duplicate_login_differing_only_by_case_is_refused(ready: Cli) -> None:
    assert ready("user", "add", "carol").code == 0
    assert_one_line_error(ready("user", "add", "CAROL"), "already taken")


def test_empty_stdin_password_and_bad_values_are_refused(ready: Cli) -> None:
    assert_one_line_error(ready("user", "add", "x", "--password-stdin", stdin=""), "stdin")
    assert_one_line_error(ready("user", "add", "x", "--expires", "soon"), "--expires")
    assert_one_line_error(ready("user", "add", "x", "--hours", "mon 19:00-08:00"), "login hours")
    assert_one_line_error(ready("user", "add", "x", "--category", "ghost"), "ghost")
    assert ready.user("x") is None


def test_user_set_bumps_auth_version_on_password_category_and_active(ready: Cli) -> None:
    ready("user", "add", "carol")
    versions = []
    for args, stdin in [
        (("--password-stdin",), "new password!\n"),
        (("--category", "office"), None),
        (("--inactive",), None),
    ]:
        before = ready.user("carol")
        assert before is not None
        result = ready("user", "set", "carol", *args, stdin=stdin)
        assert result.code == 0, result.err
        after = ready.user("carol")
        assert after is not None
        assert after.auth_version == before.auth_version + 1, args
        versions.append(after.auth_version)
    user = ready.user("carol")
    assert user is not None and not user.active and user.category.slug == "office"
    assert ready.passwords.verify(user.password_hash, "new password!")


def test_user_set_degree_keeps_auth_version_and_expiry(ready: Cli) -> None:
    ready("user", "add", "carol", "--expires", "2030-01-01T12:00")
    before = ready.user("carol")
    assert ready("user", "set", "carol", "--degree", "2").code == 0
    after = ready.user("carol")
    assert before is not None and after is not None
    assert after.degree == 2 and after.auth_version == before.auth_version
    assert after.expires_at == before.expires_at


def test_user_set_generate_password_and_clear_expiry(ready: Cli) -> None:
    ready("user", "add", "carol", "--expires", "2030-01-01T12:00")
    result = ready("user", "set", "carol", "--generate-password", "--expires", "never")
    assert result.code == 0, result.err
    password = result.out.split("new password: ", 1)[1].split()[0]
    user = ready.user("carol")
    assert user is not None and user.expires_at is None
    assert ready.passwords.verify(user.password_hash, password)
    assert_one_line_error(ready("user", "set", "carol"), "nothing to change")


def test_last_admin_cannot_be_deleted_demoted_or_disabled(ready: Cli) -> None:
    ready("user", "add", "alice", "--category", "admin")
    assert_one_line_error(ready("user", "delete", "alice"), "administer")
    assert_one_line_error(ready("user", "set", "alice", "--category", "member"), "administer")
    assert_one_line_error(ready("user", "set", "alice", "--inactive"), "administer")
    assert_one_line_error(ready("category", "set", "admin", "--no-login"), "administer")
    user = ready.user("alice")
    assert user is not None and user.active and user.category.slug == "admin"
    ready("user", "add", "root", "--category", "admin")
    assert ready("user", "delete", "alice").code == 0
    assert ready.user("alice") is None


def test_user_list_json_has_stable_keys(ready: Cli) -> None:
    ready("user", "add", "bob", "--category", "office", "--name", "Bob D.")
    ready("user", "add", "Alice", "--category", "admin")
    items = ready("user", "list", "--json").json
    assert [u["login"] for u in items] == ["Alice", "bob"]
    assert set(items[1]) == {"login", "display_name", "email", "category", "degree", "active",
                             "expires_at", "login_hours"}
    assert items[1]["display_name"] == "Bob D." and items[1]["category"] == "office"
    text = ready("user", "list")
    assert text.code == 0 and "Bob D." in text.out


def test_app_password_is_printed_once_and_stored_hashed(ready: Cli) -> None:
    ready("user", "add", "carol")
    result = ready("user", "app-password", "carol", "--label", "rclone")
    assert result.code == 0
    token = result.out.split(": ", 1)[1].split()[0]
    for session in ready.db():
        row = session.scalars(select(AppPassword)).one()
        assert row.token_hash == token_hash(token) and row.label == "rclone"
    assert_one_line_error(ready("user", "app-password", "ghost"), "ghost")


def test_revoke_app_password_marks_it_revoked(ready: Cli) -> None:
    """`user revoke-app-password LOGIN LABEL` revokes it; a second run is a one-line error."""
    ready("user", "add", "carol")
    ready("user", "app-password", "carol", "--label", "rclone")
    result = ready("user", "revoke-app-password", "carol", "rclone")
    assert result.code == 0 and "revoked 1" in result.out
    for session in ready.db():
        assert session.scalars(select(AppPassword)).one().revoked_at is not None
    assert_one_line_error(ready("user", "revoke-app-password", "carol", "rclone"), "rclone")


def test_app_passwords_lists_labels_and_dates_never_tokens(ready: Cli) -> None:
    """`user app-passwords LOGIN [--all] [--json]`: what a user needs to pick one to revoke."""
    ready("user", "add", "carol")
    laptop = ready("user", "app-password", "carol", "--label", "laptop").out
    ready("user", "app-password", "carol", "--label", "phone")
    ready("user", "revoke-app-password", "carol", "phone")
    live = ready("user", "app-passwords", "carol", "--json").json
    assert [t["label"] for t in live] == ["laptop"]
    assert live[0]["last_used_at"] is None and live[0]["revoked_at"] is None
    every = ready("user", "app-passwords", "carol", "--all", "--json").json
    assert [t["label"] for t in every] == ["laptop", "phone"]
    assert every[1]["revoked_at"] is not None
    table = ready("user", "app-passwords", "carol", "--all")
    assert table.code == 0 and "laptop" in table.out and "never" in table.out
    token = laptop.split(": ", 1)[1].split()[0]
    assert token not in table.out and token not in str(every)
    assert_one_line_error(ready("user", "app-passwords", "ghost"), "ghost")


def test_delete_unknown_user_fails(ready: Cli) -> None:
    assert_one_line_error(ready("user", "delete", "ghost"), "ghost")


# --- folders, nodes, doc types -----------------------------------------------------------------


def test_folder_add_creates_missing_parents(ready: Cli) -> None:
    result = ready("folder", "add", "/Board/2026/Q1")
    assert result.code == 0, result.err
    assert result.out.count("created folder") == 3
    again = ready("folder", "add", "/board/2026/q1")
    assert again.code == 0 and "already exists" in again.out
    for session in ready.db():
        chain = tree.resolve_chain(session, ["Board", "2026", "Q1"])
        assert chain is not None and all(n.is_folder and n.owner_id is None for n in chain)


def test_folder_add_with_a_bad_name_creates_nothing(ready: Cli) -> None:
    assert_one_line_error(ready("folder", "add", "/Good/Bad:Name"), "may not contain")
    for session in ready.db():
        assert tree.resolve_chain(session, ["Good"]) is None


def test_folder_rights_set_show_and_refuse_bad_levels(ready: Cli) -> None:
    ready("folder", "add", "/Board")
    result = ready("folder", "rights", "/Board", "office=write", "member=none")
    assert result.code == 0, result.err
    assert "member=none" in result.out and "office=write" in result.out
    assert_one_line_error(ready("folder", "rights", "/Board", "office=admin"), "manage")
    assert_one_line_error(ready("folder", "rights", "/Board", "member"), "SLUG=LEVEL")
    assert_one_line_error(ready("folder", "rights", "/Nope", "member=read"), "/Nope")
    shown = ready("folder", "rights", "/Board")
    assert "member=none, office=write" in shown.out


def test_node_set_and_doctype_add(ready: Cli) -> None:
    ready("folder", "add", "/Payroll")
    ready("user", "add", "bob", "--category", "office")
    assert_one_line_error(ready("node", "set", "/Payroll", "--doc-type", "payroll"), "payroll")
    assert ready("doctype", "add", "payroll", "--label", "Payroll").code == 0
    assert_one_line_error(ready("doctype", "add", "payroll"), "already exists")
    result = ready("node", "set", "/Payroll", "--doc-type", "payroll", "--min-degree", "2",
                   "--owner", "bob", "--new-files-private", "--protected")
    assert result.code == 0, result.err
    for session in ready.db():
        node = node_admin.resolve_path(session, "/Payroll")
        assert (node.doc_type, node.min_degree, node.new_files_private, node.protected) == (
            "payroll", 2, True, True)
        assert node.owner_id == accounts.get_user(session, "bob").id
    assert_one_line_error(ready("node", "set", "/Payroll"), "nothing to change")
    assert [d["slug"] for d in ready("doctype", "list", "--json").json] == [
        "meal-attendance", "minutes", "payroll", "receipt", "treasury"]


# --- demo ---------------------------------------------------------------------------------------


def credentials(data: Path) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in (data / "demo-credentials.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#") and parts[0] != "login":
            rows[parts[0]] = (parts[1], parts[2])
    return rows


def test_demo_loads_an_association_and_is_safe_to_rerun(run: Cli) -> None:
    result = run("demo")  # works even without a prior init
    assert result.code == 0, result.err
    creds = credentials(run.data)
    assert {k: v[0] for k, v in creds.items()} == {
        "alice": "admin", "bob": "office", "carol": "member", "dave": "member", "erin": "former"}
    assert creds["carol"][1] in result.out, "the passwords are printed too"
    mode = stat.S_IMODE((run.data / "demo-credentials.txt").stat().st_mode)
    assert mode == 0o600
    for session in run.db():
        for login, (category, password) in creds.items():
            user = accounts.get_user(session, login)
            assert user.category.slug == category
            assert run.passwords.verify(user.password_hash, password), login
        assert accounts.get_user(session, "dave").degree == 2
        assert accounts.get_user(session, "carol").degree == 1
        treasury = node_admin.resolve_path(session, "/Treasury")
        assert treasury.doc_type == "treasury"
        assert node_admin.folder_rights(session, treasury) == {"member": "read", "office": "write"}
        assert node_admin.folder_rights(session, node_admin.resolve_path(session, "/Board")) == {
            "member": "none", "office": "write"}
        budget = node_admin.resolve_path(session, "/Treasury/Budget 2025.txt")
        assert budget.size > 0 and budget.owner_id is None
        # a file created in a typed folder inherits the folder's doc type (none of its own)
        assert budget.doc_type is None
        assert node_admin.facts_for(session, SYSTEM, budget).doc_type == "treasury"
        assert budget.blob_sha256 is not None
        blobs = BlobStore(run.settings.blob_dir)  # or the database, for small content
        with inline_blobs.open_blob(session, blobs, budget.blob_sha256) as stream:
            assert stream.read().startswith(b"Budget 2025")
        files = session.scalars(select(Node).where(Node.kind == "file")).all()
        assert len(files) >= 4
    again = run("demo")
    assert again.code == 0 and "already loaded" in again.out
    assert credentials(run.data) == creds, "a rerun keeps the credentials file"


def test_demo_leaves_a_working_last_admin_rule(run: Cli) -> None:
    run("demo")
    assert_one_line_error(run("user", "delete", "alice"), "administer")


# --- rights: init defaults and explain ------------------------------------------------------


def test_init_gives_office_write_and_members_read_on_the_root(ready: Cli) -> None:
    for session in ready.db():
        root = node_admin.resolve_path(session, "/")
        assert node_admin.folder_rights(session, root) == {"member": "read", "office": "write"}


def test_explain_gives_the_policy_reasons_for_each_action(run: Cli) -> None:
    run("demo")
    hidden = run("explain", "carol", "/Members/Committee/Committee notes.md")
    assert hidden.code == 0, hidden.err
    assert "does not exist for them (404)" in hidden.out
    assert "not seen: /Members/Committee (degree 1 < required 2)" in hidden.out
    see = next(line for line in hidden.out.splitlines() if line.strip().startswith("see "))
    assert " no " in see and "degree 1 < required 2" in see

    treasury = run("explain", "--json", "carol", "/Treasury/Budget 2025.txt").json
    assert treasury["exists_for_user"] is False
    assert all(not a["allowed"] for a in treasury["actions"].values())
    assert "doc type 'treasury' excluded for category 'member'" in (
        treasury["actions"]["read"]["reason"]
    )

    dave = run("explain", "--json", "dave", "/Members/Committee/Committee notes.md").json
    assert dave["exists_for_user"] is True
    allowed = {name for name, a in dave["actions"].items() if a["allowed"]}
    assert allowed == {"see", "read"}  # documents level read: never writes
    reason = dave["actions"]["modify"]["reason"]
    assert "documents level 'read'" in reason and "< required 'write'" in reason

    bob = run("explain", "--json", "bob", "/Treasury").json
    allowed = {name for name, a in bob["actions"].items() if a["allowed"]}
    assert allowed == {"see", "read", "create"}  # the folder is the system's: no modify

    alice = run("explain", "--json", "alice", "/Treasury/Budget 2025.txt").json
    assert all(alice["actions"][a]["allowed"] for a in ("see", "read", "modify", "delete"))


def test_explain_of_a_missing_path_or_user_is_a_one_line_error(run: Cli) -> None:
    run("demo")
    assert_one_line_error(run("explain", "carol", "/Nowhere"), "No such item")
    assert_one_line_error(run("explain", "nobody", "/"), "nobody")


# --- records and provisioning ---------------------------------------------------------------


def test_record_add_and_attach_all_or_nothing(ready: Cli, tmp_path: Path) -> None:
    from davdrive import demo_files
    from davdrive.models import Attachment

    assert ready("record", "add", "product", "Jam/Confiture").code == 0
    pdf = tmp_path / "label.pdf"
    pdf.write_bytes(demo_files.pdf_with_text("Jam"))
    fake = tmp_path / "photo.jpg"
    fake.write_text("<html><script>alert(1)</script></html>")
    refused = ready("record", "attach", "product", "Jam/Confiture", str(pdf), str(fake))
    assert_one_line_error(refused, "photo.jpg", "not an allowed file type")
    for session in ready.db():
        assert session.query(Attachment).count() == 0
    done = ready("record", "attach", "product", "Jam_Confiture", str(pdf), "--visibility",
                 "shared")
    assert done.code == 0, done.err
    assert "[1/1] attached /backoffice/products/Jam_Confiture/label.pdf" in done.out
    assert "application/pdf, shared" in done.out
    assert_one_line_error(ready("record", "attach", "member", "Nobody", str(pdf)), "Nobody")


def test_provision_twice_reports_nothing_to_change(ready: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "provisioning.toml"
    spec.write_text('[[folder]]\npath = "/Forms"\nrights = { member = "read" }\n')
    first = ready("provision", str(spec))
    assert first.code == 0 and "folder /Forms: ok" in first.out, first.err
    second = ready("provision", str(spec))
    assert second.code == 0 and "nothing to change" in second.out
    for session in ready.db():
        assert node_admin.resolve_path(session, "/Forms").protected
    bad = tmp_path / "bad.toml"
    bad.write_text('[[folder]]\npath = "/X"\nrights = { ghosts = "read" }\n')
    assert ready("provision", str(bad)).code != 0


def test_demo_has_records_with_checked_attachments(run: Cli) -> None:
    from davdrive.models import Attachment, Record

    run("demo")
    for session in run.db():
        kinds = {r.kind for r in session.query(Record)}
        assert kinds == {"member", "product", "activity"}
        carol = session.query(Record).filter_by(name="Carol Petit").one()
        assert carol.user_id == accounts.get_user(session, "carol").id
        types = {a.content_type for a in session.query(Attachment)}
        assert types == {"application/pdf", "image/jpeg"}
        visibilities = {a.visibility for a in session.query(Attachment)}
        assert visibilities == {"shared", "private"}


def test_allowed_attachment_types_are_configurable(
    ready: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from davdrive import demo_files

    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(demo_files.pdf_with_text("Minutes"))
    ready("record", "add", "activity", "Choir")
    monkeypatch.setenv("DAVDRIVE_ATTACHMENTS_ALLOWED_TYPES", "jpeg")
    assert_one_line_error(ready("record", "attach", "activity", "Choir", str(pdf)),
                          "minutes.pdf", "JPEG image")
    monkeypatch.setenv("DAVDRIVE_ATTACHMENTS_ALLOWED_TYPES", "jpeg,pdf")
    assert ready("record", "attach", "activity", "Choir", str(pdf)).code == 0
    monkeypatch.setenv("DAVDRIVE_ATTACHMENTS_ALLOWED_TYPES", "exe")
    assert ready("record", "attach", "activity", "Choir", str(pdf)).code == 2
