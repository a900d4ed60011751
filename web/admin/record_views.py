"""Back-office records: list and search, add, rename, delete; attachments.

Every action is the CLI's use case (``davdrive.records``, ``davdrive.attachments``): listing needs a
staff actor, changes need ``members >= write`` (deleting a record
``members = admin``), a download is decided by ``policy.decide_record``.
Attaching several files is all or nothing: when one is refused, the page
names every refused file with its reason and nothing of the submit is kept.
"""

from __future__ import annotations

from typing import Any, BinaryIO, cast

from flask import g, redirect, render_template, request, url_for

from davdrive import attachments, records
from davdrive.errors import AttachmentsRefused, BadRequest, status_of
from davdrive.models import RECORD_KINDS, Record
from davdrive.policy import may_enter_staff_pages
from web.admin.blueprint import admin, needs
from web.downloads import attachment_response
from web.forms import Errors, refusal, text
from web.request_state import state

PER_PAGE = 50


@admin.get("/records", endpoint="records")
@needs(may_enter_staff_pages)
def records_page(errors: Errors | None = None, status: int = 200) -> Any:
    args = request.args
    kind = args.get("kind") if args.get("kind") in RECORD_KINDS else None
    page_number = int(args["page"]) if args.get("page", "").isdigit() else 1
    page = records.search_records(g.db, g.actor, kind=kind, text=args.get("q", "")[:200],
                                  page=page_number, per_page=PER_PAGE)
    return render_template(
        "admin/records.html", page=page, kinds=RECORD_KINDS,
        filters={"kind": kind or "", "q": args.get("q", "")[:200]},
        errors=errors or Errors(), done=args.get("done", ""),
    ), status


@admin.post("/records")
@needs(may_enter_staff_pages)
def record_add() -> Any:
    kind, name, user = text("kind", 16), text("name", 300), text("user", 200)
    added: list[Record] = []
    refused = refusal(lambda: added.append(
        records.add_record(g.db, kind, name, user or None, actor=g.actor)))
    if refused:
        field = "user" if "user" in refused.message.lower() else "name"
        return records_page(Errors({field: refused.message}), status_of(refused))
    return redirect(url_for("admin.record", record_id=added[0].id), 303)


def _record_page(record: Record, errors: Errors | None = None, status: int = 200,
                 refusals: list[tuple[str, str]] | None = None) -> Any:
    return render_template(
        "admin/record.html", record=record,
        path=state().settings["dav.mount"] + records.record_path(record),
        attachments=attachments.list_attachments(g.db, record), errors=errors or Errors(),
        refusals=refusals or [], done=request.args.get("done", ""),
    ), status


def _record(record_id: int) -> Record:
    return records.get_record(g.db, record_id)


@admin.get("/records/<int:record_id>")
@needs(may_enter_staff_pages)
def record(record_id: int) -> Any:
    return _record_page(_record(record_id))


def _back(record_id: int, message: str) -> Any:
    return redirect(url_for("admin.record", record_id=record_id, done=message), 303)


@admin.post("/records/<int:record_id>/rename")
@needs(may_enter_staff_pages)
def record_rename(record_id: int) -> Any:
    rec = _record(record_id)
    refused = refusal(lambda: records.rename_record(g.db, rec, text("name", 300), actor=g.actor))
    if refused:
        return _record_page(_record(record_id), Errors({"name": refused.message}),
                            status_of(refused))
    return _back(record_id, "Renamed.")


@admin.post("/records/<int:record_id>/delete")
@needs(may_enter_staff_pages)
def record_delete(record_id: int) -> Any:
    rec = _record(record_id)
    name = rec.name
    records.delete_record(g.db, rec, actor=g.actor)
    g.db.commit()
    return redirect(url_for("admin.records", done=f"Record {name} deleted."), 303)


@admin.post("/records/<int:record_id>/attach")
@needs(may_enter_staff_pages)
def record_attach(record_id: int) -> Any:
    rec = _record(record_id)
    files = [f for f in request.files.getlist("files") if f.filename]
    uploads = [attachments.Upload(name=f.filename or "", stream=cast(BinaryIO, f.stream))
               for f in files]
    try:
        attached = attachments.attach(g.db, state().runtime.blobs, rec, uploads,
                                  text("visibility", 16) or "private", actor=g.actor)
    except AttachmentsRefused as refused:
        g.db.rollback()
        return _record_page(_record(record_id), Errors({"files": refused.message}),
                            400, refused.refusals)
    except BadRequest as exc:
        g.db.rollback()
        return _record_page(_record(record_id), Errors({"files": exc.message}), 400)
    g.db.commit()
    names = ", ".join(a.file_name for a in attached)
    return _back(record_id, f"Attached: {names}.")


def _attachment(record_id: int, attachment_id: int) -> Any:
    return attachments.get_attachment(g.db, _record(record_id), attachment_id)


@admin.post("/records/<int:record_id>/attachments/<int:attachment_id>/detach")
@needs(may_enter_staff_pages)
def attachment_detach(record_id: int, attachment_id: int) -> Any:
    attachment = _attachment(record_id, attachment_id)
    name = attachment.file_name
    attachments.detach(g.db, attachment, actor=g.actor)
    g.db.commit()
    return _back(record_id, f"{name} detached.")


@admin.post("/records/<int:record_id>/attachments/<int:attachment_id>/visibility")
@needs(may_enter_staff_pages)
def attachment_visibility(record_id: int, attachment_id: int) -> Any:
    attachment = _attachment(record_id, attachment_id)
    visibility = text("visibility", 16)
    attachments.set_attachment_visibility(g.db, attachment, visibility, actor=g.actor)
    g.db.commit()
    return _back(record_id, f"{attachment.file_name} is now {visibility}.")


@admin.get("/records/<int:record_id>/attachments/<int:attachment_id>/download")
@needs(may_enter_staff_pages)
def attachment_download(record_id: int, attachment_id: int) -> Any:
    attachment = _attachment(record_id, attachment_id)
    stream, attachment = attachments.open_attachment(g.db, state().runtime.blobs, attachment,
                                                 g.actor)
    return attachment_response(stream, attachment.file_name, attachment.size,
                               attachment.content_type)
