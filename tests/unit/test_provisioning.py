"""Protected provisioning (seed 003): declarative, checked at once, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from werkzeug.test import Client

from davdrive import accounts, node_admin, provisioning
from davdrive.errors import ConfigError
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from davdrive.services import Drive
from tests.conftest import Dav, add_user, basic

SPEC = """
[[folder]]
path = "/Association"
rights = { member = "read", office = "write" }

[[folder]]
path = "/Association/Archive"
rights = { office = "read" }
doc_type = "treasury"
min_degree = 2

[[file]]
path = "/Association/Statutes.txt"
source = "statutes.txt"
doc_type = "minutes"
"""


def write_spec(tmp_path: Path, text: str = SPEC) -> Path:
    (tmp_path / "statutes.txt").write_text("Article 1\n")
    spec = tmp_path / "provisioning.toml"
    spec.write_text(text)
    return spec


def run(session: Session, runtime: Runtime, spec: Path) -> int:
    drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    return provisioning.provision(session, drive, provisioning.load(spec, session), lambda _: None)


def test_provisioning_creates_protects_and_a_second_run_changes_nothing(
    session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path)
    assert run(session, runtime, spec) > 0
    association = node_admin.resolve_path(session, "/Association")
    archive = node_admin.resolve_path(session, "/Association/Archive")
    statutes = node_admin.resolve_path(session, "/Association/Statutes.txt")
    assert association.protected and archive.protected and statutes.protected
    assert (archive.min_degree, archive.doc_type) == (2, "treasury")
    assert statutes.doc_type == "minutes" and statutes.owner_id is None
    assert node_admin.folder_rights(session, association) == {"member": "read", "office": "write"}
    assert node_admin.folder_rights(session, archive) == {"office": "read"}
    version = statutes.blob_sha256
    assert run(session, runtime, spec) == 0, "the second run changes nothing"
    assert node_admin.resolve_path(session, "/Association/Statutes.txt").blob_sha256 == version


def test_provisioning_corrects_drift_and_new_content(
    session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path)
    run(session, runtime, spec)
    archive = node_admin.resolve_path(session, "/Association/Archive")
    node_admin.set_folder_rights(session, archive, {"member": "manage"})
    node_admin.node_set(session, archive, min_degree=0, protected=False)
    session.commit()
    (tmp_path / "statutes.txt").write_text("Article 1, amended\n")
    assert run(session, runtime, spec) == 4  # rights, degree, protection, file content
    archive = node_admin.resolve_path(session, "/Association/Archive")
    assert node_admin.folder_rights(session, archive) == {"office": "read"}
    assert archive.protected and archive.min_degree == 2


def test_every_problem_of_the_file_is_reported_and_nothing_written(
    session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    bad = write_spec(tmp_path, """
[[folder]]
path = "relative"
rights = { ghosts = "read", member = "admin" }

[[folder]]
path = "/Ok"
doc_type = "unknown-type"
min_degree = -1
colour = "red"

[[file]]
path = "/Ok/missing.pdf"
source = "nowhere.pdf"
""")
    with pytest.raises(ConfigError) as refused:
        run(session, runtime, bad)
    problems = "\n".join(refused.value.errors)
    for expected in ("absolute path", "ghosts", "'admin'", "unknown-type", "min_degree",
                     "colour", "nowhere.pdf"):
        assert expected in problems
    with pytest.raises(Exception):  # noqa: B017 - NotFound
        node_admin.resolve_path(session, "/Ok")


@pytest.mark.parametrize("documents", ["admin", "write"])
def test_protected_items_resist_an_administrator_over_webdav(
    app: DriveApp, runtime: Runtime, tmp_path: Path, documents: str
) -> None:
    spec = write_spec(tmp_path)
    with runtime.sessions() as session:
        accounts.init_defaults(session)
        run(session, runtime, spec)
        session.commit()
    add_user(runtime, "boss", "boss-pw", documents=documents, category=f"boss-{documents}")
    dav = Dav(Client(app), basic("boss", "boss-pw"))
    assert dav("GET", "/dav/Association/Statutes.txt").data == b"Article 1\n"
    assert dav("PUT", "/dav/Association/Statutes.txt", "x").status_code == 403
    assert dav("DELETE", "/dav/Association/Statutes.txt").status_code == 403
    assert dav("DELETE", "/dav/Association").status_code == 403
    assert dav("MOVE", "/dav/Association", Destination="/dav/Renamed").status_code == 403
    assert dav("MOVE", "/dav/Association/Statutes.txt",
               Destination="/dav/Statutes.txt").status_code == 403
    assert dav("PUT", "/dav/Association/new.txt", "x").status_code == 403
    assert dav("GET", "/dav/Association/Statutes.txt").data == b"Article 1\n"
