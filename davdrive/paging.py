"""Page arithmetic shared by the paginated searches (users, records).

A search counts its matches, then fetches one page: ``page_count`` is at
least 1 (an empty result is one empty page), ``clamp_page`` keeps the asked
page within [1, pages], and ``check_per_page`` refuses sizes outside
1..``MAX_PER_PAGE`` (BadRequest) before anything is read.
"""

from __future__ import annotations

from typing import Final

from davdrive.errors import BadRequest

MAX_PER_PAGE: Final = 200


def check_per_page(per_page: int) -> int:
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"A page holds 1 to {MAX_PER_PAGE} items, not {per_page}.")
    return per_page


def page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def clamp_page(page: int, total: int, per_page: int) -> int:
    return min(max(page, 1), page_count(total, per_page))
