"""The command line's argument types: each checks its value when the line is parsed, so a bad
argument is one line on stderr and exit code 2, before any query or model load. And `command`, which
pairs each sub-command with the function that runs it and the one that reads its typed options from
argparse's namespace (`by_name`, or a command's own `from_args`: with `main`, the only code that sees
the namespace)."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from retrieval import MODELS, Box, CatalogueFilter, Fact, RetrievalError, Settings, entry_kind, label_and_key

MODEL_HELP = f"model to use ({', '.join(MODELS)}); default: ResNet50 if its weights are here, else EfficientNet-Lite0"
T = TypeVar("T")
Options = TypeVar("Options")  # a command's typed options
Fields = TypeVar("Fields", bound="DataclassInstance")  # a command's typed options, a dataclass

PLAIN_HELP = "rank by the plain cosine instead of the default expanded query re-ranked by its candidates' neighbourhoods"


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line saying what is wrong and where help is, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {' '.join(message.split())} (see {self.prog} --help)\n")


if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    Commands = argparse._SubParsersAction[Parser]  # where each command module adds its sub-commands


def command(
    sub: Commands,
    run: Callable[[Options, Settings], int],
    options: Callable[[argparse.Namespace], Options],
    description: str | None = None,
) -> Parser:
    """The sub-command that `run` (named cmd_NAME) carries out, given its typed options (read from the
    parsed line by `options`, once, in `main`) and the settings. Its one-line help is the first line of
    `run`'s docstring and its description the rest (unless `description` is given), so what `--help`
    says of a command is written once, on the code that does it."""
    summary, _, rest = inspect.cleandoc(run.__doc__ or "").partition("\n")
    parser = sub.add_parser(run.__name__.removeprefix("cmd_"), help=summary, description=description or rest.strip() or None)
    parser.set_defaults(run=run, options=options)
    return parser


def by_name(kind: type[Fields]) -> Callable[[argparse.Namespace], Fields]:
    """The reader of the options `kind`, a dataclass each of whose fields is the parsed argument of
    its name (argparse's `dest`; a list of values made a tuple). Options that need more than their
    arguments as parsed (checks across arguments, values combined) are read by their own `from_args`."""

    def from_args(args: argparse.Namespace) -> Fields:
        values = {field.name: getattr(args, field.name) for field in dataclasses.fields(kind)}
        return kind(**{name: tuple(v) if isinstance(v, list) else v for name, v in values.items()})

    return from_args


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number between {low} and {high}, not {_shown(text)}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {value}")
        return value

    return parse


def cosine(text: str) -> float:
    """An argparse type: a cosine similarity, -1 to 1 (NaN and infinities fail the comparison)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a cosine between -1 and 1, not {_shown(text)}") from None
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a cosine between -1 and 1, not {_shown(text)}")
    return value


def _kind(path: Path) -> str:
    """What is at `path`, from its metadata only: opening a FIFO would wait for a writer, and a device never ends."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{path} does not exist") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the name
        raise argparse.ArgumentTypeError(f"cannot look at {_shown(str(path))} ({getattr(e, 'strerror', None) or e})") from None
    return entry_kind(mode)


def existing(expected: str) -> Callable[[str], Path]:
    """An argparse type: an existing, readable "file" (a regular one) or "folder"."""

    def check(text: str) -> Path:
        path = Path(text)
        if (kind := _kind(path)) != expected:
            raise argparse.ArgumentTypeError(f"{path} is a {kind}, not a {expected}")
        if not os.access(path, os.R_OK | (os.X_OK if expected == "folder" else 0)):
            raise argparse.ArgumentTypeError(f"cannot read {path} (permission denied)")
        return path

    return check


def output(text: str) -> Path:
    """An argparse type: a file to write, checked before the work whose result it keeps."""
    path = Path(text)
    if (path.exists() or path.is_symlink()) and (kind := _kind(path)) != "file":
        raise argparse.ArgumentTypeError(f"{path} is a {kind}, not a file to write")
    if _kind(path.parent) != "folder" or not os.access(path.parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {path.parent}")
    return path


def json_output(text: str) -> Path | str:
    """An argparse type: `-` for stdout, or a file to write."""
    return text if text == "-" else output(text)


def _library_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from the library's own parser: what it refuses is one line and exit code 2."""

    def check(text: str) -> T:
        try:
            return parse(text)
        except RetrievalError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return check


box = _library_type(Box.parse)  # a region of a photo, LEFT,TOP,WIDTH,HEIGHT
where = _library_type(CatalogueFilter.parse)  # a catalogue filter, LABEL.KEY=VALUE
stem = _library_type(label_and_key)  # attach --stem LABEL.KEY


def fact_words(fact: Fact[Any]) -> Callable[[str], str]:
    """An argparse type: the words of a filter on `fact` (checked here, read again into the filter)."""
    check = _library_type(fact.condition)

    def checked(text: str) -> str:
        check(text)
        return text

    return checked
