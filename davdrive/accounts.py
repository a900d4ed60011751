"""The account use cases under one name: categories, document types, users.

This module only re-exports; the code lives by concern in
``account_checks`` (shared checks), ``last_admin`` (seed 001's rule),
``categories`` (categories, document types, a new drive's defaults) and
``users`` (users, app passwords, the policy's view of a user). Callers may
import from here or from those modules: the names are the same objects.
"""

from __future__ import annotations

from typing import Final

from davdrive.account_checks import (
    MAX_LOGIN_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    UNSET,
    audit_change,
    check_degree,
    check_level,
    check_login,
    check_slug,
    login_key,
)
from davdrive.categories import (
    DEFAULT_CATEGORIES,
    DEFAULT_DOC_TYPES,
    DEFAULT_ROOT_RIGHTS,
    add_category,
    add_doctype,
    category_summary,
    default_category,
    get_category,
    get_doctype,
    init_defaults,
    list_categories,
    list_doctypes,
    set_category,
    users_per_category,
)
from davdrive.last_admin import administrators, can_administer, category_administers
from davdrive.users import (
    actor_for,
    add_user,
    app_password,
    delete_user,
    find_user,
    get_user,
    list_users,
    login_facts,
    reset_password,
    revoke_app_password,
    set_user,
    user_summary,
)

INHERIT: Final = "inherit"

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_DOC_TYPES",
    "DEFAULT_ROOT_RIGHTS",
    "INHERIT",
    "MAX_LOGIN_LENGTH",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "UNSET",
    "actor_for",
    "add_category",
    "add_doctype",
    "add_user",
    "administrators",
    "app_password",
    "audit_change",
    "can_administer",
    "category_administers",
    "category_summary",
    "check_degree",
    "check_level",
    "check_login",
    "check_slug",
    "default_category",
    "delete_user",
    "find_user",
    "get_category",
    "get_doctype",
    "get_user",
    "init_defaults",
    "list_categories",
    "list_doctypes",
    "list_users",
    "login_facts",
    "login_key",
    "reset_password",
    "revoke_app_password",
    "set_category",
    "set_user",
    "user_summary",
    "users_per_category",
]
