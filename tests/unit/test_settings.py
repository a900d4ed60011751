"""Settings: declared once; TOML, then environment, then flags; all errors at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from davdrive.errors import ConfigError
from davdrive.settings import SETTINGS, load_settings, reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "davdrive.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_apply_without_any_source() -> None:
    s = load_settings(None, {}, {})
    assert s["server.port"] == 8080
    assert s["dav.mount"] == "/dav"
    assert s["dav.allow_infinite_propfind"] is False


def test_later_sources_win_file_then_env_then_flags(tmp_path: Path) -> None:
    cfg = write(tmp_path, "[server]\nport = 9000\nhost = '0.0.0.0'\nthreads = 4\n")
    s = load_settings(cfg, {"DAVDRIVE_SERVER_PORT": "9100"}, {"server.threads": "8"})
    assert s["server.host"] == "0.0.0.0"
    assert s["server.port"] == 9100
    assert s["server.threads"] == 8


def test_every_error_in_a_config_file_is_reported_at_once(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "[server]\nport = 'eighty'\nthreads = -2\n[dav]\nmount = 'dav/'\nbogus = 1\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg, {"DAVDRIVE_AUTH_CACHE_SECONDS": "soon"}, {})
    text = "\n".join(caught.value.errors)
    assert "server.port" in text
    assert "server.threads" in text
    assert "dav.mount" in text
    assert "dav.bogus" in text
    assert "DAVDRIVE_AUTH_CACHE_SECONDS" in text
    assert len(caught.value.errors) == 5


def test_unknown_environment_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="DAVDRIVE_SERVER_PROT"):
        load_settings(None, {"DAVDRIVE_SERVER_PROT": "1"}, {})


def test_invalid_toml_is_reported_with_the_file_name(tmp_path: Path) -> None:
    cfg = write(tmp_path, "[server\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg, {}, {})


def test_tls_cert_without_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="together"):
        load_settings(None, {}, {"server.tls_cert": "cert.pem"})


def test_the_nightly_backup_is_taken_with_postgresql_too() -> None:
    """Backups export PostgreSQL's tables into the snapshot (davdrive.backup)."""
    url = "postgresql+psycopg://davdrive@db.example/davdrive"
    assert load_settings(None, {}, {"database.url": url, "backup.hour": 3})["backup.hour"] == 3
    assert load_settings(None, {}, {"database.url": url})["backup.hour"] == -1


def test_booleans_from_environment() -> None:
    s = load_settings(None, {"DAVDRIVE_DAV_ALLOW_INFINITE_PROPFIND": "yes"}, {})
    assert s["dav.allow_infinite_propfind"] is True
    with pytest.raises(ConfigError):
        load_settings(None, {"DAVDRIVE_DAV_ALLOW_INFINITE_PROPFIND": "perhaps"}, {})


def test_every_setting_has_help_and_an_environment_name() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    for s in SETTINGS:
        assert s.help.strip(), s.name
        assert s.env.startswith("DAVDRIVE_")


def test_readme_configuration_reference_is_generated_from_declarations() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- settings-reference:start")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- settings-reference:end")
    assert readme[start:end] == reference_markdown(), (
        "README configuration table is stale: regenerate it from settings.reference_markdown()"
    )


def test_example_config_file_loads_cleanly() -> None:
    s = load_settings(ROOT / "config" / "davdrive.example.toml", {}, {})
    assert s["dav.mount"] == "/dav"


def test_allowed_hosts_must_be_bare_host_names() -> None:
    """server.allowed_hosts is compared with the Host header minus its port."""
    assert load_settings(None, {"DAVDRIVE_SERVER_ALLOWED_HOSTS": "drive.example.org,[::1]"},
                         {})["server.allowed_hosts"] == ["drive.example.org", "[::1]"]
    for bad in ("https://drive.example.org", "drive.example.org:443", "a b"):
        with pytest.raises(ConfigError) as caught:
            load_settings(None, {"DAVDRIVE_SERVER_ALLOWED_HOSTS": bad}, {})
        assert "server.allowed_hosts" in str(caught.value)


@pytest.mark.parametrize("mount", ["/admin", "/Admin/dav", "/files"])
def test_the_drive_is_never_mounted_over_the_browser_side(mount: str) -> None:
    with pytest.raises(ConfigError, match="dav.mount"):
        load_settings(None, {"DAVDRIVE_DAV_MOUNT": mount}, {})


def test_trusted_proxies_are_addresses_or_networks_from_any_source(tmp_path: Path) -> None:
    """server.trusted_proxies (issue 14): a TOML list or a comma-separated variable;
    anything that is not an address or CIDR network is refused, named."""
    assert load_settings(None, {}, {})["server.trusted_proxies"] == []
    cfg = write(tmp_path, "[server]\ntrusted_proxies = ['10.0.0.1', '2001:db8::/64']\n")
    assert load_settings(cfg, {}, {})["server.trusted_proxies"] == ["10.0.0.1", "2001:db8::/64"]
    env = {"DAVDRIVE_SERVER_TRUSTED_PROXIES": "127.0.0.1, 192.168.0.0/24"}
    assert load_settings(None, env, {})["server.trusted_proxies"] == [
        "127.0.0.1", "192.168.0.0/24"]
    with pytest.raises(ConfigError, match="proxy.example"):
        load_settings(None, {"DAVDRIVE_SERVER_TRUSTED_PROXIES": "proxy.example"}, {})


def test_throttle_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="auth.throttle_per_login"):
        load_settings(None, {}, {"auth.throttle_per_login": 0})
