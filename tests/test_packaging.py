"""pyproject.toml declares exactly what the library and the app import (no more, no less), so an
install from it runs, and a dependency nothing uses is not carried along."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.support.paths import PROJECT

NOT_IMPORTED = {"neo4j-rust-ext"}  # loaded by the driver itself when installed
STUBS = {"_typeshed"}  # the standard library's type stubs, imported for type checking only


def imported_distributions() -> set[str]:
    programs = [p for p in PROJECT.glob("*.py") if p.name != "conftest.py"]  # the app's script
    sources = [*(PROJECT / "retrieval").rglob("*.py"), *(PROJECT / "app").rglob("*.py"), *programs]
    tops = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                tops.add(node.module.split(".")[0])
    third_party = tops - set(sys.stdlib_module_names) - STUBS - {"retrieval", "app", "tests", "conftest"}
    owners = packages_distributions()
    return {normalized(owners[name][0]) for name in third_party}


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares them (pillow_heif is pillow-heif)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_dependencies_are_exactly_what_is_imported():
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["ray"]]
    names = {normalized(re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]) for requirement in declared}
    assert names - NOT_IMPORTED == imported_distributions()
