"""Settings: each declared once (``davdrive.setting_catalog``), read from TOML,
then DAVDRIVE_* env, then flags.

Every setting has a dotted name (``server.port``), which is also its place in
the TOML file (``[server] port = 8080``) and its environment variable
(``DAVDRIVE_SERVER_PORT``). ``load_settings`` collects every problem it finds
and raises one ``ConfigError`` listing them all, so a user fixes a config file
in one go. ``reference_markdown`` renders the README's configuration table
from the same declarations.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from davdrive import blob_settings
from davdrive.errors import ConfigError
from davdrive.setting_catalog import DB_FILE as DB_FILE
from davdrive.setting_catalog import SETTINGS as SETTINGS
from davdrive.setting_catalog import Setting

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Resolved settings; read with ``settings["server.port"]`` or attributes below."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def data_dir(self) -> Path:
        return Path(self.values["data_dir"]).resolve()

    @property
    def database_url(self) -> str:
        url = self.values["database.url"]
        return url or f"sqlite:///{self.data_dir / DB_FILE}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def backup_dir(self) -> Path:
        folder = self.values["backup.dir"]
        return Path(folder).resolve() if folder else self.data_dir / "backups"

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with dotted names (``server__port`` or 'server.port') changed."""
        values = dict(self.values)
        for key, value in changes.items():
            values[key.replace("__", ".")] = value
        return Settings(values)


def _coerce(setting: Setting, raw: Any, source: str) -> tuple[Any, str | None]:
    """Convert ``raw`` to the setting's type; strings come from env or flags."""
    kind = setting.kind
    where = f"{source}: {setting.name}"
    if isinstance(raw, str) and kind is not str:
        text = raw.strip()
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True, None
            if text.lower() in ("0", "false", "no", "off"):
                return False, None
            return None, f"{where} must be true or false, got {raw!r}"
        if kind is int:
            try:
                return int(text), None
            except ValueError:
                return None, f"{where} must be an integer, got {raw!r}"
        if kind is list:
            return [p.strip() for p in text.split(",") if p.strip()], None
    if kind is int and isinstance(raw, bool):
        return None, f"{where} must be an integer, got {raw!r}"
    if not isinstance(raw, kind):
        return None, f"{where} must be of type {kind.__name__}, got {raw!r}"
    return raw, None


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in _BY_NAME:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def load_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings from defaults, a TOML file, the environment and flags.

    Later sources win. Raises ``ConfigError`` naming every problem at once.
    """
    env = os.environ if env is None else env
    errors: list[str] = []
    values = {s.name: s.default for s in SETTINGS}

    if config_file is not None:
        try:
            table = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            errors.append(f"{config_file}: file not found")
            table = {}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            errors.append(f"{config_file}: not valid TOML: {exc}")
            table = {}
        for name, raw in _flatten(table).items():
            setting = _BY_NAME.get(name)
            if setting is None:
                errors.append(f"{config_file}: unknown setting {name!r}")
                continue
            value, error = _coerce(setting, raw, str(config_file))
            if error:
                errors.append(error)
            else:
                values[name] = value

    known_env = {s.env: s for s in SETTINGS}
    for key, raw in env.items():
        if not key.startswith("DAVDRIVE_") or key in _IGNORED_ENV:
            continue
        setting = known_env.get(key)
        if setting is None:
            errors.append(f"environment: unknown variable {key}")
            continue
        value, error = _coerce(setting, raw, f"environment {key}")
        if error:
            errors.append(error)
        else:
            values[setting.name] = value

    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        setting = _BY_NAME[name]
        value, error = _coerce(setting, raw, "command line")
        if error:
            errors.append(error)
        else:
            values[name] = value

    for setting in SETTINGS:
        value = values[setting.name]
        if setting.check and isinstance(value, setting.kind):
            problem = setting.check(value)
            if problem:
                errors.append(f"{setting.name} {problem} (got {value!r})")
    if bool(values["server.tls_cert"]) != bool(values["server.tls_key"]):
        errors.append("server.tls_cert and server.tls_key must be given together")
    errors += blob_settings.problems(values)
    if errors:
        raise ConfigError(errors)
    return Settings(values)


# Variables read by the test suite or the CLI itself, not settings.
_IGNORED_ENV = frozenset({"DAVDRIVE_STRICT", "DAVDRIVE_CONFIG"})


def reference_markdown() -> str:
    """The configuration reference table, generated from the declarations."""
    lines = [
        "| setting | environment | default | meaning |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = repr(s.default) if s.default != "" else "(empty)"
        text = s.help.replace("|", "\\|")
        lines.append(f"| `{s.name}` | `{s.env}` | `{default}` | {text} |")
    return "\n".join(lines) + "\n"
