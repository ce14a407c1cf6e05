"""Which module imports which: the package's root imports nothing of it,
one module starts the run, one sentence says a dependency is missing."""
import ast

from tests.conftest import ROOT

PLUGIN = ROOT / "plugin"


def imported(path):
    """The package's own modules that ``path`` imports (relative imports)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            names |= {node.module} if node.module else {a.name for a in node.names}
    return names


def test_package_root_imports_nothing_of_its_own():
    assert imported(PLUGIN / "__init__.py") == set()


def test_only_the_entry_module_imports_cli():
    importers = {p.name for p in PLUGIN.glob("*.py") if "cli" in imported(p)}
    assert importers == {"entry.py"}


def test_one_copy_of_the_missing_dependency_line():
    holders = [p.name for p in [*PLUGIN.glob("*.py"), ROOT / "check_es_snapshot.py"]
               if "missing Python module" in p.read_text()]
    assert holders == ["entry.py"]
