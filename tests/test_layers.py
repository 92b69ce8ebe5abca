"""The library's layers, read from its source: each package imports only from the layers below it
(and from itself), so the storage layer and the vision layer can be used, and changed, apart; and the
app on top of them all, using only the public API (`retrieval`, `retrieval.serving`)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from retrieval import Store
from tests.support.paths import PROJECT

LIBRARY = PROJECT / "retrieval"
# Lowest first. A module may import its own layer and those before it, except where a layer says
# which ones: neo4j and vision stand side by side on core, neither knowing the other; serving (what
# only the app needs) and cli stand side by side on top.
LAYERS = {
    "core": {"core"},
    "neo4j": {"core", "neo4j"},
    "vision": {"core", "vision"},
    "jobs": {"core", "neo4j", "vision", "jobs"},
    "serving": {"core", "neo4j", "vision", "jobs", "serving"},
    "cli": {"core", "neo4j", "vision", "jobs", "cli"},
}
COMMANDS = {"cli", "__main__"}


def layer_of(module: str) -> str:
    """`retrieval.neo4j.store` -> neo4j; `retrieval.search` -> jobs; `retrieval.serving.jobs` -> serving;
    `retrieval.cli.search` -> cli; `retrieval` (the public API, which re-exports jobs and the layers below) -> jobs."""
    parts = module.split(".")[1:]
    if parts and parts[0] in LAYERS and parts[0] not in {"jobs", "cli"}:
        return parts[0]
    return "cli" if parts and parts[0] in COMMANDS else "jobs"


def imported_modules(path: Path) -> list[str]:
    """Every module the file imports by its full name, at the top, inside functions or for type checking."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def imported(path: Path) -> list[str]:
    """Every `retrieval...` module the file imports."""
    return [name for name in imported_modules(path) if name == "retrieval" or name.startswith("retrieval.")]


MODULES = sorted(LIBRARY.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LIBRARY)))
def test_each_module_imports_only_its_own_layer_and_those_below(path):
    module = ".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")
    allowed = LAYERS[layer_of(module)]
    upward = [name for name in imported(path) if layer_of(name) not in allowed]
    assert upward == [], f"{module} ({layer_of(module)}) imports {upward}"


def test_no_module_imports_itself_back_through_others():
    """No import circle, even one only the type checker follows: each module can be read, and moved,
    knowing only what it imports."""
    names = {".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__"): path for path in MODULES}
    graph = {module: {name for name in imported(path) if name in names} for module, path in names.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        pytest.fail(f"import circle: {' -> '.join(e.args[1])}")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LIBRARY)))
def test_the_library_never_imports_streamlit_or_the_app(path):
    tree = ast.parse(path.read_text())
    modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    modules += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not [m for m in modules if m.split(".")[0] in {"streamlit", "app"}]


def test_only_the_browser_tests_and_their_support_import_playwright():
    browser = {
        "tests/support/browser.py",
        "tests/support/serving.py",
        "tests/test_app_browser.py",
        "tests/test_app_served.py",
        "tests/test_app_browser_query.py",
        "tests/test_app_browser_catalogue.py",
        "tests/test_app_browser_formats.py",
        "tests/test_duplicates_browser.py",
        "tests/test_duplicates_resolving_browser.py",
        "tests/test_outages.py",  # Neo4j stopped under the app, in the browser, beside the other outages
        "bench/test_app_latency.py",
    }
    sources = [*PROJECT.glob("tests/**/*.py"), *PROJECT.glob("bench/*.py"), PROJECT / "conftest.py"]
    importing = set()
    for path in sources:
        tree = ast.parse(path.read_text())
        modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        modules += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        if any(m.split(".")[0] == "playwright" for m in modules):
            importing.add(str(path.relative_to(PROJECT)))
    assert importing <= browser


def test_the_command_line_and_the_public_api_are_where_their_layers_say():
    assert {layer_of(m) for m in ("retrieval.cli", "retrieval.cli.search", "retrieval.__main__")} == {"cli"}
    assert {layer_of(m) for m in ("retrieval", "retrieval.pruning", "retrieval.distributed")} == {"jobs"}
    assert {layer_of(m) for m in ("retrieval.neo4j.java", "retrieval.neo4j.maven", "retrieval.neo4j.conf")} == {"neo4j"}


COMMAND_LINE = sorted((LIBRARY / "cli").glob("*.py"))
# Where the command line reaches below the public API, and why: `db` manages the project's own local
# Neo4j (fetching, starting and stopping it), tooling for this machine that no program using the library
# needs, kept in the storage layer beside the connection that decides which server every command uses;
# `index --ray` imports the Ray indexing only when asked, as importing it loads Ray (seconds of every start).
BELOW_THE_PUBLIC_API = {
    "db.py": {"retrieval.neo4j.connection", "retrieval.neo4j.errors", "retrieval.neo4j.java", "retrieval.neo4j.server"},
    "index.py": {"retrieval.distributed"},
}


@pytest.mark.parametrize("path", COMMAND_LINE, ids=lambda p: p.name)
def test_the_command_line_uses_the_library_through_its_public_api(path):
    inside = {name for name in imported(path) if name != "retrieval" and name.split(".")[:2] != ["retrieval", "cli"]}
    assert inside == BELOW_THE_PUBLIC_API.get(path.name, set())


def namespace_parameters(path: Path) -> list[str]:
    """The functions of the file that take an argparse namespace as a parameter."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            parameters = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            if any(p.annotation and ast.unparse(p.annotation).split(".")[-1] == "Namespace" for p in parameters):
                found.append(node.name)
    return found


@pytest.mark.parametrize("path", COMMAND_LINE, ids=lambda p: p.name)
def test_only_the_reading_of_a_commands_options_sees_argparse_namespace(path):
    """Each command reads its typed options from the namespace in one `from_args`, called by `main`;
    the command and everything it calls take those options, never the namespace."""
    assert [name for name in namespace_parameters(path) if name != "from_args"] == []


APP = sorted([*(PROJECT / "app").glob("*.py"), PROJECT / "streamlit_app.py"])
# What the app may import of the library: its public API and the serving facade, nothing below them.
PUBLIC = {"retrieval", "retrieval.serving"}


@pytest.mark.parametrize("path", APP, ids=lambda p: str(p.relative_to(PROJECT)))
def test_the_app_imports_only_the_public_api_and_the_serving_facade(path):
    """So that the app is a program like any other: what it needs of the library is exported, and
    the library's inside can change under it."""
    below = [name for name in imported(path) if name not in PUBLIC]
    tests = [name for name in imported_modules(path) if name.split(".")[0] == "tests"]
    assert below == [] and tests == [], f"{path.name} imports {below + tests}"


@pytest.mark.parametrize("path", [*APP, *COMMAND_LINE], ids=lambda p: str(p.relative_to(PROJECT)))
def test_the_programs_ask_a_store_only_what_its_public_surface_offers(path):
    """On a `store` the app and the command line call only `Store`'s methods; anything more they do by
    handing the store to a public function."""
    surface = {name for name in vars(Store) if not name.startswith("_")}
    asked = {
        node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "store"
    }
    assert asked <= surface, f"{path.name} asks a store {sorted(asked - surface)}"
