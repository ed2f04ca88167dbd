"""The shape of the code: pure modules stay pure, only blueprints import blueprints, tests share flows through helpers."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLANNER = ROOT / "planner"
TESTS = ROOT / "tests"
TEMPLATES = ROOT / "templates"

#: the pure modules of DESIGN.md; those not written yet are skipped
PURE = ("balance", "rounds", "tables", "mixing", "network", "ical", "calendar_parts", "bounces", "tokens", "directory", "charts",
        "text", "recurrence", "mime")
#: what a pure module may load of the planner besides the pure modules: the package and the error base
PURE_MAY_LOAD = {"planner", "planner.errors", *(f"planner.{name}" for name in PURE)}


def module_name(path: Path) -> str:
    """Return the dotted name of a source file under the project root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path) -> set[str]:
    """Return every module name a source file imports, relative imports resolved, `from x import y` giving x and x.y."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def blueprint_modules() -> set[str]:
    """Return the dotted names of the modules inside planner/blueprints/ (the package itself aside)."""
    return {module_name(path) for path in (PLANNER / "blueprints").glob("*.py") if path.name != "__init__.py"}


def test_the_import_walk_resolves_relative_imports():
    assert "planner.blueprints.views" in imported_names(PLANNER / "blueprints" / "events.py")
    assert "planner.services.events" in imported_names(PLANNER / "forms.py")
    assert "planner.blueprints" in imported_names(PLANNER / "app.py")


def test_no_module_outside_the_blueprints_imports_a_blueprint():
    blueprints = blueprint_modules()
    assert {"planner.blueprints.events", "planner.blueprints.proposals", "planner.blueprints.views"} <= blueprints
    offenders = {}
    for path in PLANNER.rglob("*.py"):
        if (PLANNER / "blueprints") in path.parents:
            continue
        bad = imported_names(path) & blueprints
        if bad:
            offenders[module_name(path)] = sorted(bad)
    assert offenders == {}


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_load_neither_flask_nor_sqlalchemy_nor_the_app_side(name):
    if not (PLANNER / f"{name}.py").exists():
        pytest.skip(f"planner/{name}.py does not exist yet")
    code = (
        f"import sys, json, planner.{name}\n"
        "roots = ('flask', 'flask_sqlalchemy', 'sqlalchemy', 'planner')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in roots)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    loaded = set(__import__("json").loads(result.stdout))
    assert loaded - PURE_MAY_LOAD == set()


def test_the_purity_check_would_see_an_app_side_import():
    code = "import sys, planner.filters; print('planner.services.events' in sys.modules and 'flask' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "True", result.stderr


def test_test_modules_never_import_each_other():
    support = {"tests.helpers", "tests.smtp_server", "tests.gunicorn_server", "tests.oidc_provider"}  # shared, no tests
    shared = {"tests", "tests.libical_check", "tests.browser", *support}
    offenders = {}
    for path in TESTS.rglob("*.py"):
        bad = {name for name in imported_names(path) if name.startswith("tests.") and name not in shared}
        bad = {name for name in bad if name.rpartition(".")[0] not in support}
        if bad:
            offenders[module_name(path)] = sorted(bad)
    assert offenders == {}


def test_no_template_global_queries_and_no_include_is_optional():
    for path in (PLANNER / "blueprints").glob("*.py"):
        text = path.read_text()
        assert "app_template_global" not in text and "context_processor" not in text, path
    for path in TEMPLATES.rglob("*.html"):
        assert "ignore missing" not in path.read_text(), path


def test_views_read_settings_with_their_defaults_from_config():
    for path in PLANNER.rglob("*.py"):
        assert "current_app.config.get(" not in path.read_text(), path
