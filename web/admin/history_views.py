"""The event history and the connection statistics (seed 002), read-only.

Both need ``policy.may_read_history`` (checked again by ``davdrive.history``
and ``davdrive.stats_report``). The history page has the CLI's filters (user,
action, path prefix, from and to dates), 50 events a page, and a CSV export
of everything the filters match, streamed with a session of its own. The statistics page shows the
totals per user and interface over the last days, the drive's storage (trash
and versions included), and a server-rendered SVG chart of requests per day,
overall and for the user picked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, g, render_template, request
from markupsafe import Markup
from sqlalchemy.orm import Session

from davdrive import history, stats_report
from davdrive.errors import BadRequest, DriveError
from davdrive.policy import may_read_history
from davdrive.stats_svg import sparkline_svg, stats_svg
from davdrive.storage_usage import storage_usage
from web.admin.blueprint import admin, needs
from web.downloads import with_own_session
from web.forms import Errors

PER_PAGE = 50
FILTERS = ("user", "action", "path", "since", "until")
PERIODS = (7, 30, 90, 365)


def _filters() -> dict[str, str]:
    """The history filters as typed (for the form and the links)."""
    return {name: request.args.get(name, "")[:300].strip() for name in FILTERS}


def _criteria(filters: dict[str, str], errors: Errors) -> dict[str, Any]:
    """The filters as ``history`` takes them; a wrong date is noted in ``errors``.

    "From" is the start of its day, "to" the end of its day: both days are included.
    """
    return {
        "user": filters["user"] or None,
        "action": filters["action"] or None,
        "path_prefix": filters["path"] or None,
        "since": errors.check("since", lambda: history.parse_moment(filters["since"], "From")),
        "until": errors.check("until", lambda: history.parse_moment(
            filters["until"], "To", end_of_day=True)),
    }


@admin.get("/history", endpoint="history")
@needs(may_read_history)
def history_page() -> Any:
    filters, errors = _filters(), Errors()
    criteria = _criteria(filters, errors)
    number = int(request.args["page"]) if request.args.get("page", "").isdigit() else 1
    page = None
    if not errors:
        try:
            page = history.search_events(g.db, g.actor, **criteria, page=number,
                                         per_page=PER_PAGE)
        except DriveError as exc:  # a path not starting with "/", or "to" before "from"
            errors["path" if filters["path"] and "path" in exc.message else "until"] = (
                exc.message)
    return render_template("admin/history.html", page=page, filters=filters,
                           errors=errors), 400 if errors else 200


@admin.get("/history.csv", endpoint="history_csv")
@needs(may_read_history)
def history_csv() -> Any:
    errors = Errors()
    criteria = _criteria(_filters(), errors)
    if errors:
        raise BadRequest(" ".join(errors.values()))
    name = f"davdrive-history-{dt.date.today().isoformat()}.csv"

    def answer(session: Session) -> Response:
        response = Response(history.events_csv(session, g.actor, **criteria),
                            mimetype="text/csv")
        response.headers.set("Content-Disposition", "attachment", filename=name)
        return response

    return with_own_session(answer)


@admin.get("/statistics", endpoint="statistics")
@needs(may_read_history)
def statistics_page() -> Any:
    asked = request.args.get("days", "")
    days = int(asked) if asked.isdigit() and int(asked) in PERIODS else 30
    report = stats_report.connection_totals(g.db, g.actor, days)
    every, per_login = stats_report.requests_per_day_by_login(g.db, g.actor, days)
    asked_login = request.args.get("login", "")[:150]
    login = asked_login if asked_login and asked_login in per_login else None
    everyone = [sum(day) for day in zip(*per_login.values(), strict=True)] or [0] * len(every)
    charts = [_svg(stats_svg(every, everyone, f"Requests per day, everyone, last {days} days"))]
    if login is not None:
        charts.append(_svg(stats_svg(every, per_login[login],
                                     f"Requests per day of {login}, last {days} days")))
    sparks = {name: _svg(sparkline_svg(every, values, f"requests per day of {name}"))
              for name, values in per_login.items()}
    return render_template(
        "admin/statistics.html", report=report, days=days, periods=PERIODS, login=login,
        charts=charts, sparks=sparks, storage=storage_usage(g.db),
    )


def _svg(text: str) -> Markup:
    """SVG text to put in the page as is: ``davdrive.stats_svg`` escapes every text it
    writes (titles, logins, dates)."""
    return Markup(text)  # noqa: S704
