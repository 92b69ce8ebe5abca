"""The public API, as a program uses it: the README's 'From Python' example, run as written against
the test Neo4j on a folder of real photos."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shutil
import subprocess
import sys
import types
import typing
from collections.abc import Callable, Iterator

import retrieval
import retrieval.serving
from retrieval import ImageStore, Store
from tests.support.paths import DEMO_IMAGES, PROJECT
from tests.support.server import server_env

QUERY = "car_ferrari_red_01.jpg"


def readme_example() -> str:
    section = (PROJECT / "README.md").read_text(encoding="utf-8").split("## From Python", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README's 'From Python' section has no Python example"
    return found.group(1)


def test_the_readme_example_indexes_a_folder_and_finds_the_photo_it_was_given_first(store, neo4j_server, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    photos = sorted(DEMO_IMAGES.glob("car_ferrari_*_[0-9][0-9].jpg"))[:8]  # the photos, not the demo's derived copies
    assert DEMO_IMAGES / QUERY in photos
    for photo in photos:
        shutil.copy(photo, folder)
    run = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=tmp_path,
        env=server_env(neo4j_server),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    summary, *hits = run.stdout.splitlines()
    assert summary.startswith("8 new, 0 updated, 0 unchanged, 0 removed, 0 skipped (8 files")
    assert len(hits) == 5
    assert hits[0].split()[1] == str(folder / QUERY)
    assert {line.split()[1] for line in hits} <= {str(folder / p.name) for p in photos}


# What a program imports: the library's API, and what a served front end needs beyond it.
PUBLIC = (retrieval, retrieval.serving)
EXPORTED = {name: getattr(module, name) for module in PUBLIC for name in module.__all__}
# Handed to the library, never asked by a program: `ImageStore`'s members are the library's inside
# beyond `Store` (exported, and checked itself), `Embedding`'s are what `index_folder` calls.
HANDED_IN = (retrieval.ImageStore, retrieval.Embedding)


def test_every_function_the_package_exports_is_typed_and_documented():
    for name, value in EXPORTED.items():
        if callable(value) and not isinstance(value, type):
            assert value.__doc__, f"{name} has no docstring"
            assert "return" in value.__annotations__, f"{name} has no return type"


def named_types(hint: object) -> set[type]:
    """The classes a type hint names, inside unions and generics."""
    found = {hint} if isinstance(hint, type) else set()
    origin = typing.get_origin(hint)
    found |= {origin} if isinstance(origin, type) else set()
    for argument in typing.get_args(hint):
        found |= named_types(argument)
    return found


def checking_only(module: types.ModuleType) -> dict[str, object]:
    """The names `module` imports only for the type checker (`if TYPE_CHECKING:`), so that its hints resolve."""
    names: dict[str, object] = {}
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    source = importlib.import_module(statement.module)
                    names |= {a.asname or a.name: getattr(source, a.name) for a in statement.names}
                elif isinstance(statement, ast.Import):
                    names |= {a.asname or a.name: importlib.import_module(a.name) for a in statement.names}
    return names


def hints(function: Callable[..., object]) -> dict[str, object]:
    module = sys.modules[function.__module__]
    return typing.get_type_hints(function, globalns={**checking_only(module), **vars(module)})


def signatures(name: str, value: object) -> Iterator[tuple[str, dict[str, object]]]:
    """Each signature a program calls: an exported function's, and an exported class's constructor
    (its public parameters), methods and properties; an error's constructor is the library's (it raises, a program catches)."""
    if not isinstance(value, type):
        if callable(value):
            yield name, hints(value)
        return
    for attribute, member in inspect.getmembers(value):
        static = inspect.getattr_static(value, attribute)
        function = static.fget if isinstance(static, property) else member
        if not inspect.isfunction(function) or not function.__module__.startswith("retrieval"):
            continue
        if attribute == "__init__" and not issubclass(value, BaseException):
            yield f"{name}()", {k: v for k, v in hints(function).items() if not k.startswith("_")}
        elif not attribute.startswith("_") and value not in HANDED_IN:
            yield f"{name}.{attribute}", hints(function)


def test_every_type_of_the_library_in_an_exported_signature_is_exported():
    """A program can name every type it is given or must give: functions' parameters and returns,
    and those of the exported classes' constructors, methods and properties (the `Store` Protocol's too)."""
    exported = {id(value) for value in EXPORTED.values()}
    unexported = set()
    for name, value in EXPORTED.items():
        for where, hinted in signatures(name, value):
            for kind in set().union(set(), *map(named_types, hinted.values())):
                if kind.__module__.startswith("retrieval") and id(kind) not in exported:
                    unexported.add(f"{kind.__module__}.{kind.__name__} (in {where})")
    assert not unexported


def test_the_store_is_what_its_public_surface_says():
    """`ImageStore` has each method of `Store`, taking and returning what the Protocol says (mypy checks
    the types in retrieval/neo4j/store.py; this checks the names, parameters and defaults too), and each
    of them says why a program asks it."""
    surface = [name for name in vars(Store) if not name.startswith("_")]
    assert len(surface) == 12  # the number the Protocol's docstring and the README give
    for name in surface:
        assert getattr(Store, name).__doc__, f"Store.{name} does not say why a program needs it"
        assert inspect.signature(getattr(ImageStore, name)) == inspect.signature(getattr(Store, name)), name
