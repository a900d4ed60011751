"""Categories (one editable grid of their rights) and document types.

Listing needs the staff pages; every change needs ``config``, checked by the
use case (``davdrive.categories``). Hidden categories are listed only to
those ``list_categories`` shows them to.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from davdrive import categories
from davdrive.account_checks import check_slug
from davdrive.errors import status_of
from davdrive.models import LEVELS, Category
from davdrive.policy import may_enter_staff_pages
from web.admin.blueprint import admin, needs
from web.forms import Errors, checked, refusal, text

FLAGS = ("login", "config", "hidden", "may_delete")


@admin.app_template_global()
def category_rank(category: Category) -> str:
    """The highest right of ``category``, for its badge's colour (red for admin)."""
    if category.config or "admin" in (category.documents, category.members):
        return "admin"
    if "write" in (category.documents, category.members):
        return "write"
    if "read" in (category.documents, category.members):
        return "read"
    return "none"


def _page(errors: Errors | None = None, editing: str = "", done: str = "",
          status: int = 200) -> Any:
    rows = categories.list_categories(g.db, g.actor)
    counts = categories.users_per_category(g.db)
    return render_template(
        "admin/categories.html", categories=rows, counts=counts, levels=LEVELS,
        doctypes=categories.list_doctypes(g.db), errors=errors or Errors(), editing=editing,
        done=done, may_change=g.actor.config,
    ), status


@admin.get("/categories", endpoint="categories")
@needs(may_enter_staff_pages)
def categories_page() -> Any:
    return _page(done=request.args.get("done", ""))


def _fields() -> dict[str, Any]:
    form = request.form
    return {
        "label": text("label", 200),
        "description": text("description", 2000),
        "documents": form.get("documents", ""),
        "members": form.get("members", ""),
        "excluded_doc_types": form.getlist("excluded"),
        **{flag: checked(flag) for flag in FLAGS},
    }


@admin.post("/categories/<slug>")
@needs(may_enter_staff_pages)
def category_set(slug: str) -> Any:
    refused = refusal(lambda: categories.set_category(
        g.db, slug, actor=g.actor, is_default=checked("is_default") or None, **_fields()))
    if refused:
        return _page(Errors({"": refused.message}), editing=slug, status=status_of(refused))
    return redirect(url_for("admin.categories", done=f"Category {slug} saved."), 303)


@admin.post("/categories")
@needs(may_enter_staff_pages)
def category_add() -> Any:
    errors = Errors()
    slug = errors.check("slug", lambda: check_slug(text("slug", 64), "category"))
    if errors or slug is None:
        return _page(errors, editing="+", status=400)
    fields = _fields()
    fields["label"] = fields["label"] or slug
    refused = refusal(lambda: categories.add_category(
        g.db, slug, actor=g.actor, is_default=checked("is_default"), **fields))
    if refused:
        errors["slug" if "exists" in refused.message else ""] = refused.message
        return _page(errors, editing="+", status=status_of(refused))
    return redirect(url_for("admin.categories", done=f"Category {slug} created."), 303)


# --- document types ---------------------------------------------------------------------


@admin.get("/doctypes")
@needs(may_enter_staff_pages)
def doctypes(errors: Errors | None = None, status: int = 200) -> Any:
    return render_template(
        "admin/doctypes.html", doctypes=categories.list_doctypes(g.db),
        errors=errors or Errors(), may_change=g.actor.config,
        done=request.args.get("done", ""),
    ), status


@admin.post("/doctypes")
@needs(may_enter_staff_pages)
def doctype_add() -> Any:
    errors = Errors()
    slug = errors.check("slug", lambda: check_slug(text("slug", 64), "document type"))
    if errors or slug is None:
        return doctypes(errors, 400)
    refused = refusal(lambda: categories.add_doctype(g.db, slug, text("label", 200) or None,
                                                     actor=g.actor))
    if refused:
        return doctypes(Errors({"slug": refused.message}), status_of(refused))
    return redirect(url_for("admin.doctypes", done=f"Document type {slug} added."), 303)
