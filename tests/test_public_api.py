"""The public API, as a program uses it: the README's 'From Python' example, run as written against
the test Neo4j on a folder of real photos."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import typing

import retrieval
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


def test_every_function_the_package_exports_is_typed_and_documented():
    for name in retrieval.__all__:
        value = getattr(retrieval, name)
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


def test_every_type_of_the_library_in_an_exported_functions_signature_is_exported():
    unexported = set()
    for name in retrieval.__all__:
        value = getattr(retrieval, name)
        if callable(value) and not isinstance(value, type):
            module = sys.modules[value.__module__]
            hints = typing.get_type_hints(value, globalns=vars(module), localns=vars(retrieval))
            for kind in set().union(*map(named_types, hints.values())):
                if kind.__module__.startswith("retrieval") and kind.__name__ not in retrieval.__all__:
                    unexported.add(f"{kind.__name__} (in {name})")
    assert not unexported
