"""The dependency rule: the core imports neither WsgiDAV, cheroot nor the adapters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "davdrive"
# The app factory and the server process around it are the core modules allowed to
# wire the adapters together.
WIRING = {CORE / "server.py", CORE / "serve_command.py"}
FORBIDDEN = ("wsgidav", "cheroot", "provider", "auth", "web", "werkzeug", "flask")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_core_modules_import_no_http_stack_or_adapter() -> None:
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        if path in WIRING or "migrations" in path.parts:
            continue
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == [], "core must stay free of HTTP: " + "; ".join(offenders)


def test_importing_the_core_loads_no_wsgidav_or_cheroot() -> None:
    modules = [
        p.stem for p in CORE.glob("*.py") if p.stem != "__init__" and p not in WIRING
    ]
    code = (
        "import sys\n"
        + "".join(f"import davdrive.{m}\n" for m in modules)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        + repr(FORBIDDEN)
        + ")\nprint(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "", f"core import pulled in: {result.stdout.strip()}"


def test_adapters_do_not_import_each_others_internals_from_core() -> None:
    """provider/ and auth/ may import the core; the core never imports them (see above).
    The provider never imports auth, so the DAV adapter can be used with another front door."""
    for path in sorted((ROOT / "provider").rglob("*.py")):
        for module in imported_modules(path):
            assert module.split(".")[0] != "auth", f"{path.name} imports {module}"


def test_browser_side_imports_the_core_but_not_the_webdav_adapter() -> None:
    """web/ shares the core with provider/ and auth/, but no HTTP plumbing (DESIGN 11.8)."""
    offenders = []
    for path in sorted((ROOT / "web").rglob("*.py")):
        for module in imported_modules(path):
            if module.split(".")[0] in ("provider", "auth", "wsgidav", "cheroot"):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == [], "; ".join(offenders)
