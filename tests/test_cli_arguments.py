"""Hostile arguments to every command are refused with one line on stderr, exit code 2 (usage) or 1,
before any query or model load, never with a traceback, and the server answers afterwards.

Most cases run `main` in-process (the parser and the checks before any query); a handful run the
CLI end to end as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import neo4j.exceptions
import pytest

from retrieval import DEFAULT_TIER
from retrieval.cli import build_parser, main
from retrieval.cli.duplicates import DuplicatesOptions
from retrieval.cli.index import LinkOptions
from retrieval.cli.info import StatsOptions
from retrieval.cli.interrupt import INTERRUPTED
from retrieval.neo4j.store import ImageStore
from tests.support.cli import run_cli
from tests.support.paths import DEMO_IMAGES, PROJECT

PHOTO = str(DEMO_IMAGES / "car_ferrari_red_01.jpg")
FOLDER = str(DEMO_IMAGES)
ELEVEN = [str(p) for p in sorted(DEMO_IMAGES.glob("*.jpg"))[:11]]
FIFO = "<fifo>"  # replaced by a named pipe of the test's own: opening one for reading waits for a writer

USAGE_ERRORS = [
    # index
    (["index", PHOTO], "is a file, not a folder"),
    (["index", "/dev/zero"], "/dev/zero is a device, not a folder"),
    (["index", FIFO], "is a FIFO (named pipe), not a folder"),
    (["index", "/no/such/folder"], "/no/such/folder does not exist"),
    (["index", FOLDER, "--batch-size", "0"], "argument --batch-size: must be between 1 and 1024, not 0"),
    (["index", FOLDER, "--batch-size", "-5"], "must be between 1 and 1024, not -5"),
    (["index", FOLDER, "--batch-size", "100000000"], "must be between 1 and 1024, not 100000000"),
    (["index", FOLDER, "--batch-size", "ten"], "must be a whole number between 1 and 1024, not 'ten'"),
    (["index", FOLDER, "--batch-size", "nan"], "must be a whole number"),
    # search
    (["search", PHOTO, "-k", "0"], "argument -k: must be between 1 and 1000, not 0"),
    (["search", PHOTO, "-k", "-1"], "argument -k: must be between 1 and 1000, not -1"),
    (["search", PHOTO, "-k", "100000000"], "argument -k: must be between 1 and 1000, not 100000000"),
    (["search", PHOTO, "-k", "9" * 5000], "argument -k: must be a whole number between 1 and 1000, not '999"),
    (["search", PHOTO, "-k", "abc"], "must be a whole number between 1 and 1000, not 'abc'"),
    (["search", PHOTO, "-k", "2.5"], "must be a whole number"),
    (["search", PHOTO, "-k", "inf"], "must be a whole number"),
    (["search", FOLDER], "is a folder, not a file"),
    (["search", "/dev/zero"], "/dev/zero is a device, not a file"),
    (["search", FIFO], "is a FIFO (named pipe), not a file"),
    (["search", "/no/such/photo.jpg"], "/no/such/photo.jpg does not exist"),
    (["search", PHOTO, "--where", "category"], "argument --where: 'category' is not a filter of the form Label.property=value"),
    (["search"], "search needs at least one photo to look like"),
    (["search", "--not", PHOTO], "search needs at least one photo to look like (--not only says what to avoid)"),
    (["search", PHOTO, "--not", "/no/such.jpg"], "argument --not: /no/such.jpg does not exist"),
    (["search", PHOTO, "--not", FOLDER], "is a folder, not a file"),
    (["search", PHOTO, "--box", "a,b,c,d"], "argument --box: a box is LEFT,TOP,WIDTH,HEIGHT in whole pixels"),
    (["search", PHOTO, "--box", "10,10,100"], "e.g. 40,30,200,150, not '10,10,100'"),
    (["search", PHOTO, "--box", "1.5,2,100,100"], "a box is LEFT,TOP,WIDTH,HEIGHT in whole pixels"),
    (["search", PHOTO, "--box", "10,10,0,50"], "the box must be at least 8 pixels wide and high, not 0x50"),
    (["search", PHOTO, "--box", "10,10,100,0"], "not 100x0"),
    (["search", PHOTO, "--box=-1,0,100,100"], "the box's left and top must be 0 or more, not -1,0"),
    (["search", PHOTO, "--camera", ""], "argument --camera: The camera to filter by is empty: give its name."),
    (["search", PHOTO, "--camera", "  "], "argument --camera: The camera to filter by is empty: give its name."),
    (["search", *ELEVEN[:6], *(a for p in ELEVEN[6:] for a in ("--not", p))], "A query takes at most 10 examples (to look like"),
    # link
    (["link", "--k", "0"], "argument --k: must be between 1 and 100, not 0"),
    (["link", "--k", "101"], "argument --k: must be between 1 and 100, not 101"),
    (["link", "--k", "x"], "must be a whole number between 1 and 100, not 'x'"),
    (["link", "--min-score", "7"], "argument --min-score: must be a cosine between -1 and 1, not '7'"),
    (["link", "--min-score", "-3"], "must be a cosine between -1 and 1, not '-3'"),
    (["link", "--min-score", "nan"], "must be a cosine between -1 and 1, not 'nan'"),
    (["link", "--min-score", "inf"], "must be a cosine between -1 and 1, not 'inf'"),
    # duplicates
    (["duplicates", "--threshold", "7"], "argument --threshold: must be a cosine between -1 and 1, not '7'"),
    (["duplicates", "--threshold", "-3"], "must be a cosine between -1 and 1, not '-3'"),
    (["duplicates", "--threshold", "NaN"], "must be a cosine between -1 and 1, not 'NaN'"),
    (["duplicates", "--threshold=-inf"], "must be a cosine between -1 and 1, not '-inf'"),
    (["duplicates", "--threshold", "0.9x"], "must be a cosine between -1 and 1, not '0.9x'"),
    (["duplicates", "--threshold", ""], "must be a cosine between -1 and 1, not ''"),
    (["duplicates", "--tier", "exact"], "argument --tier: invalid choice: 'exact'"),
    (["duplicates", "--page", "0"], "argument --page: must be between 1 and 1000000, not 0"),
    (["duplicates", "--group", "1e9"], "must be a whole number between 1 and 1000000, not '1e9'"),
    (["duplicates", "--page", "1", "--group", "2"], "argument --group: not allowed with argument --page"),
    (["duplicates", "--json", "--paths"], "argument --paths: not allowed with argument --json"),
    # attach
    (["attach", FOLDER], "is a folder, not a file"),
    (["attach", "/dev/zero"], "/dev/zero is a device, not a file"),
    (["attach", FIFO], "is a FIFO (named pipe), not a file"),
    (["attach", "/no/such.csv"], "/no/such.csv does not exist"),
    (["attach", "--stem", "Product.sku", "--folder", PHOTO], "is a file, not a folder"),
    (["attach", "--stem", "Product"], "argument --stem: give LABEL.KEY, e.g. Product.sku, not 'Product'"),
    (["attach", "--stem", "Product.sku; MATCH (n) DETACH DELETE n"], "'sku; MATCH (n) DETACH DELETE n' is not a safe Neo4j"),
    # evaluate
    (["evaluate", PHOTO], "is a file, not a folder"),
    (["evaluate", "/dev/zero"], "/dev/zero is a device, not a folder"),
    (["evaluate", FIFO], "is a FIFO (named pipe), not a folder"),
    (["evaluate", FOLDER, "--worst", FOLDER], "is a folder, not a file to write"),
    (["evaluate", FOLDER, "--worst", "/dev/zero"], "/dev/zero is a device, not a file to write"),
    (["evaluate", FOLDER, "--json", FIFO], "is a FIFO (named pipe), not a file to write"),
    (["evaluate", FOLDER, "--json", "/no/such/folder/figures.json"], "/no/such/folder does not exist"),
    # stats, db, and no command
    (["stats", "--top", "5"], "unrecognized arguments: --top 5"),
    (["db", "restart"], "argument action: invalid choice: 'restart'"),
    (["db"], "the following arguments are required: action"),
    (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
]


@pytest.fixture(scope="module")
def fifo(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("fifo") / "photo.jpg"
    os.mkfifo(path)
    return str(path)


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`main(args)` in this process: its exit code and its stderr."""
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own exit
        code = e.code
    return code, capsys.readouterr().err


def assert_one_line(stderr: str, expected: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("args", "expected"), USAGE_ERRORS, ids=[" ".join(args)[:50] for args, _ in USAGE_ERRORS])
def test_a_hostile_argument_is_refused_with_one_line_and_exit_2(args, expected, fifo, capsys):
    code, stderr = run_main([fifo if a == FIFO else a for a in args], capsys)
    assert code == 2
    assert_one_line(stderr, expected)
    assert stderr.rstrip().endswith("--help)")


@pytest.fixture
def settings_env(app_env, tmp_path, monkeypatch) -> Path:
    """The test server's environment with no secrets file (a developer's own is never read)."""
    monkeypatch.setenv("RETRIEVAL_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    return tmp_path


HOSTILE_SETTINGS = [
    ("NEO4J_LOCAL_PORT", "abc", "NEO4J_LOCAL_PORT must be a port number from 1 to 65535, not 'abc'"),
    ("NEO4J_LOCAL_PORT", "0", "from 1 to 65535, not '0'"),
    ("NEO4J_LOCAL_PORT", "-1", "from 1 to 65535, not '-1'"),
    ("NEO4J_LOCAL_PORT", "99999999", "from 1 to 65535, not '99999999'"),
    ("NEO4J_LOCAL_PORT", "9" * 5000, "from 1 to 65535, not '999"),
    ("NEO4J_RETRY_SECONDS", "soon", "NEO4J_RETRY_SECONDS must be a number of seconds from 0 to 3600, not 'soon'"),
    ("NEO4J_RETRY_SECONDS", "-1", "from 0 to 3600, not '-1'"),
    ("NEO4J_RETRY_SECONDS", "nan", "from 0 to 3600, not 'nan'"),
    ("NEO4J_RETRY_SECONDS", "1e9", "from 0 to 3600, not '1e9'"),
    ("NEO4J_LOCAL_HOME", "/dev/zero", "NEO4J_LOCAL_HOME must be a folder"),
    ("NEO4J_LOCAL_HOME", PHOTO, "NEO4J_LOCAL_HOME must be a folder"),
    ("RETRIEVAL_SECRETS_FILE", FIFO, "is not a regular file"),
    ("RETRIEVAL_SECRETS_FILE", FOLDER, "is not a regular file"),
    ("RETRIEVAL_SECRETS_FILE", PHOTO, "is not valid TOML"),
]


SETTING_CASES = [(command, *setting) for command in ("db status", "stats") for setting in HOSTILE_SETTINGS]


@pytest.mark.parametrize("case", SETTING_CASES, ids=[f"{c} {name}={value[:20]}" for c, name, value, _ in SETTING_CASES])
def test_a_hostile_setting_is_refused_with_one_line_and_exit_1(case, settings_env, fifo, monkeypatch, capsys):
    command, variable, value, expected = case
    monkeypatch.setenv(variable, fifo if value == FIFO else value)
    code, stderr = run_main(command.split(), capsys)
    assert code == 1
    assert_one_line(stderr, expected)


def test_a_file_that_is_no_image_is_refused_before_the_model_loads(settings_env, capsys):
    notes = settings_env / "notes.jpg"
    notes.write_text("not a photo\n")
    code, stderr = run_main(["search", str(notes)], capsys)
    assert code == 1
    assert_one_line(stderr, "notes.jpg: not a recognised image format")


def test_a_box_beyond_the_photo_is_refused_before_the_model_loads(settings_env, capsys):
    code, stderr = run_main(["search", PHOTO, "--box", "1000,600,200,200"], capsys)
    assert code == 1
    assert_one_line(stderr, "the box 1000,600,200,200 reaches beyond the photo, which is")


def test_a_neo4j_error_no_layer_wrapped_is_one_line_naming_the_command(settings_env, monkeypatch, capsys):
    def fail(*args: object) -> None:
        raise neo4j.exceptions.ResultConsumedError(None, "The result is out of scope.\nThe associated transaction was closed.")

    monkeypatch.setattr(ImageStore, "stats", fail)
    code, stderr = run_main(["stats"], capsys)
    assert code == 1
    assert_one_line(stderr, "Neo4j failed during `stats` (ResultConsumedError: The result is out of scope. The associated")


def test_an_error_the_driver_meets_while_unwinding_from_ctrl_c_is_said_as_the_ctrl_c(settings_env, monkeypatch, capsys):
    def interrupted_mid_message(*args: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:  # the driver's clean-up, with a memoryview of its buffer still held
            raise BufferError("Existing exports of data: object cannot be re-sized")  # noqa: B904 (as the driver does)

    monkeypatch.setattr(ImageStore, "stats", interrupted_mid_message)
    code, stderr = run_main(["stats"], capsys)
    assert code == 130
    assert [line for line in stderr.splitlines() if line.strip()] == [INTERRUPTED]


END_TO_END = [  # each once ended badly; every run costs seconds of imports, so the rest are checked in-process above
    (["search", PHOTO, "-k", "100000000"], "argument -k: must be between 1 and 1000"),  # Neo4j out of heap, a traceback
    (["search", FIFO], "is a FIFO (named pipe), not a file"),  # waited forever for a writer
    (["duplicates", "--threshold", "7"], "must be a cosine between -1 and 1"),  # taken as it was
]


def test_the_cli_refuses_hostile_arguments_in_one_line_and_the_server_still_answers(store, cli_env, fifo):
    for args, expected in END_TO_END:
        result = run_cli(*[fifo if a == FIFO else a for a in args], env=cli_env)
        assert result.returncode == 2, (args, result.stderr)
        assert_one_line(result.stderr, expected)
    assert run_cli("stats", env=cli_env).returncode == 0


def test_a_server_error_reaches_the_user_as_one_line(demo_store, lite, cli_env):
    store = demo_store
    index = store.index_name(lite.spec.space)
    store.driver.execute_query(f"DROP INDEX `{index}`")  # as a user or an admin dropping it by hand
    try:
        result = run_cli("search", PHOTO, "--plain", env=cli_env)
    finally:
        store.ensure_schema(lite.spec.space)
    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]  # after the model and runtime lines
    assert "Neo4j could not run a query" in error and "run `python -m retrieval index FOLDER` first" in error, error
    assert "Traceback" not in result.stderr


def test_asking_for_more_results_than_images_stored_lists_them_all(demo_store, cli_env):
    result = run_cli("search", PHOTO, "-k", "1000", "--plain", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1 + 34


def test_a_photo_named_many_times_is_one_example_of_the_query(demo_store, cli_env):
    once = run_cli("search", PHOTO, "--json", env=cli_env)
    repeated = run_cli("search", *[PHOTO] * 30, "--not", PHOTO, "--not", PHOTO, "--json", env=cli_env)
    assert once.returncode == repeated.returncode == 0, repeated.stderr
    assert repeated.stdout == once.stdout


def test_a_reader_that_stops_early_ends_a_command_quietly(demo_store, cli_env):
    for args in (["search", PHOTO, "-k", "1000", "--json"], ["duplicates", "--tier", "similar", "--json"], ["stats"]):
        command = [sys.executable, "-m", "retrieval", *args]
        run = subprocess.Popen(command, env=cli_env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert run.stdout is not None and run.stderr is not None
        run.stdout.close()  # as `| head -1` does once it has its line: here before anything is written
        stderr, code = run.stderr.read(), run.wait()
        assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, (args, stderr)
        assert code == 1, (args, stderr)  # as Python's docs have it for a closed pipe (signal, "Note on SIGPIPE")
    piped = subprocess.run(
        f"{sys.executable} -m retrieval search {PHOTO} -k 1000 --json | head -1",
        shell=True,
        env=cli_env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert piped.stdout == "[\n" and "Traceback" not in piped.stderr


def options_of(line: str) -> object:
    """The typed options `main` hands the command this line names."""
    args = build_parser().parse_args(line.split())
    return args.options(args)


def test_a_commands_options_are_its_parsed_arguments_by_name_each_list_of_values_a_tuple():
    marked = options_of("duplicates --not-duplicates /p/a.jpg /p/b.jpg")
    assert isinstance(marked, DuplicatesOptions)
    assert marked.not_duplicates == ("/p/a.jpg", "/p/b.jpg") and marked.unmark == () and marked.tier == DEFAULT_TIER.name
    assert options_of("stats --json") == StatsOptions(json=True)
    assert options_of("link --k 5 --missing") == LinkOptions(k=5, min_score=-1.0, missing=True, model=None)
