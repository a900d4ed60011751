"""The admin view (``/admin/``): one blueprint, one module of views per concern."""

from web.admin import (  # noqa: F401  (each module adds its views to the blueprint)
    account_views,
    category_views,
    folder_views,
    history_views,
    record_views,
    trash_views,
    user_views,
)
from web.admin.blueprint import admin

__all__ = ["admin"]
