"""Use cases of the drive: every change goes through ``Drive``.

A ``Drive`` is built per request (or per CLI command) around the caller's
session, the blob store and the acting user. Each use case asks the policy,
raises a domain error when refused, writes, audits and commits. Nothing is
half-done: a refused recursive operation changes nothing, and an upload's
row is committed only after its blob is durable.

The use cases are stacked by concern, one module each: ``drive_base``
(rights, naming, commits, audit), ``drive_reading``, ``drive_writing``,
``drive_moving``, ``drive_versions``, ``drive_uploads`` (several files in one
submit); this module adds classification and is the one callers import.
"""

from __future__ import annotations

from sqlalchemy import select

from davdrive.drive_base import MAX_DEGREE, UNSET, DriveOptions, Unset, Upload, guess_content_type
from davdrive.drive_uploads import DriveUploads
from davdrive.errors import BadRequest
from davdrive.models import VISIBILITIES, DocType, Node, utcnow
from davdrive.policy import Action

__all__ = ["Drive", "DriveOptions", "UNSET", "Unset", "Upload", "guess_content_type"]


class Drive(DriveUploads):
    """The drive as seen and changed by one actor, within one session."""

    def set_classification(
        self,
        node: Node,
        *,
        min_degree: int | None = None,
        doc_type: str | None | Unset = UNSET,
        dry_run: bool = False,
    ) -> None:
        """Change the minimum degree and/or doc type (``doc_type=None`` clears it).

        With ``dry_run`` everything is checked and nothing is changed.
        """
        self.require(Action.SET_CLASSIFICATION, node)
        if min_degree is not None and not 0 <= min_degree <= MAX_DEGREE:
            raise BadRequest(f"The degree must be a whole number from 0 to {MAX_DEGREE}.")
        if isinstance(doc_type, str) and self.session.scalars(
            select(DocType.id).where(DocType.slug == doc_type)
        ).first() is None:
            raise BadRequest(f"No document type {doc_type!r}: add it first.")
        if dry_run:
            return
        if min_degree is not None:
            node.min_degree = min_degree
        if not isinstance(doc_type, Unset):
            node.doc_type = doc_type
        node.updated_at = utcnow()
        self.session.flush()
        self._audit("classify", node, detail=f"degree={node.min_degree} doc_type={node.doc_type}")
        self._commit()

    def set_visibility(self, node: Node, visibility: str, *, dry_run: bool = False) -> None:
        """Make ``node`` shared or private (checked only, with ``dry_run``)."""
        self.require(Action.SET_VISIBILITY, node)
        if visibility not in VISIBILITIES:
            raise BadRequest("The visibility is 'shared' or 'private'.")
        if dry_run:
            return
        node.visibility = visibility
        node.updated_at = utcnow()
        self.session.flush()
        self._audit("visibility", node, detail=visibility)
        self._commit()
