"""The apps talk through public selectors, services, signals and contracts, never through each other's models or
private names (issue 17): a change inside one app's models or underscore helpers cannot break another app.

Every module of every app (migrations aside: they name historical models by design) is parsed, not imported, so
the rule holds for code no test happens to run.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests.conftest import ROOT

APPS = ["backups", "monitoring", "alerting", "performance", "dashboards", "opsportal"]

# Modules that define `__all__` are a contract: other apps may use exactly those names.
CONTRACTS = {"alerting.observations"}

# (importing module, imported module, name): why the exception is justified. Empty: keep it so, or say why here.
ALLOWED: dict[tuple[str, str, str], str] = {}


def app_modules(app: str) -> list[Path]:
    return [path for path in sorted((ROOT / app).rglob("*.py")) if "migrations" not in path.relative_to(ROOT).parts]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) for every absolute import; `import a.b` is (line, "a.b", "")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, "") for alias in node.names]
    return found


def contract_names(module: str) -> set[str]:
    path = ROOT / (module.replace(".", "/") + ".py")
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "__all__" for target in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{module} is listed as a contract but defines no __all__")


def seam_violations(app: str) -> list[str]:
    contracts = {module: contract_names(module) for module in CONTRACTS}
    violations = []
    for path in app_modules(app):
        for line, module, name in imports_of(path):
            parts = module.split(".")
            if parts[0] not in APPS or parts[0] == app:
                continue
            where = f"{path.relative_to(ROOT)}:{line}: from {module} import {name or '*'}"
            if (module_name(path), module, name) in ALLOWED:
                continue
            if "models" in parts or name == "models":
                violations.append(f"{where} (another app's models)")
            elif any(part.startswith("_") and part != "__init__" for part in parts) or name.startswith("_"):
                violations.append(f"{where} (another app's private name)")
            elif module in contracts and name not in contracts[module]:
                violations.append(f"{where} (not in {module}.__all__)")
    return violations


def test_no_app_imports_another_apps_models_or_private_names():
    assert {app: seam_violations(app) for app in APPS} == {app: [] for app in APPS}


def test_the_check_finds_a_model_import_and_a_private_name(tmp_path, monkeypatch):
    """The rule itself can fail: a module reaching into another app is reported, its own app's models are not."""
    fake_root = tmp_path
    (fake_root / "dashboards").mkdir()
    (fake_root / "dashboards" / "leaky.py").write_text(
        "from monitoring.models import MetricRollup\n"
        "from monitoring.selectors import _resolution\n"
        "import performance.models\n"
        "from alerting.observations import _registry\n"
        "from dashboards.ranges import _moment\n"
        "from monitoring.selectors import history_step\n"
    )
    (fake_root / "alerting").mkdir()
    (fake_root / "alerting" / "observations.py").write_text((ROOT / "alerting" / "observations.py").read_text())
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)

    found = seam_violations("dashboards")

    assert [entry.split(": ", 1)[0] for entry in found] == [
        "dashboards/leaky.py:1", "dashboards/leaky.py:2", "dashboards/leaky.py:3", "dashboards/leaky.py:4"]


def test_alerting_offers_other_apps_a_small_public_contract():
    assert {"Observation", "register_provider", "declare_metric", "declare_event",
            "ObservationsUnavailable"} <= contract_names("alerting.observations")
