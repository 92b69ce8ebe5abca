"""A messy folder: every bad file is skipped with its reason, every good one indexed exactly once."""

from __future__ import annotations

import os

import numpy as np
import pytest

from retrieval.vision.decode import decode, read_file
from tests.support.cli import run_cli
from tests.support.hostile import make_corpus
from tests.support.paths import DEMO_IMAGES

# Root reads any file whatever its mode; drop that privilege so the unreadable file is unreadable.
AS_UNPRIVILEGED = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
    if os.geteuid() == 0
    else []
)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "messy photos"
    good, bad = make_corpus(folder, DEMO_IMAGES / "car_ferrari_red_01.jpg")
    return folder, good, bad


def skipped_lines(stdout: str) -> dict[str, str]:
    return {line: line for line in stdout.splitlines() if line.startswith("  skipped ")}


def test_each_bad_file_is_skipped_with_its_reason_and_exactly_the_good_ones_are_stored(store, cli_env, corpus):
    folder, good, bad = corpus
    result = run_cli("index", str(folder), env=cli_env, wrapper=AS_UNPRIVILEGED)
    assert result.returncode == 0, result.stderr
    lines = list(skipped_lines(result.stdout))
    assert len(lines) == len(bad)
    for path, reason in bad.items():
        [line] = [line for line in lines if line.startswith(f"  skipped {path}: ")]
        assert reason in line, line
    assert f"{len(good)} new, 0 updated, 0 unchanged, 0 removed, {len(bad)} skipped" in result.stdout
    assert sorted(store.paths()) == sorted(str(p) for p in good)

    sizes = {
        r["name"]: (r["w"], r["h"])
        for r in store.driver.execute_query("MATCH (i:Image) RETURN i.name AS name, i.width AS w, i.height AS h").records
    }
    assert sizes["rotated_exif.jpg"] == (300, 400)  # stored upright
    assert sizes["huge_photo.jpg"] == (6000, 4000)  # the original's size, though decoded in draft mode

    again = run_cli("index", str(folder), env=cli_env, wrapper=AS_UNPRIVILEGED)
    assert f"0 new, 0 updated, {len(good)} unchanged, 0 removed, {len(bad)} skipped" in again.stdout
    assert len(store.paths()) == len(good)


def test_awkward_but_good_images_decode_to_sensible_rgb(corpus):
    folder, _, _ = corpus
    sixteen = np.asarray(decode(read_file(folder / "sixteen_bit.png"), "16"))
    assert sixteen.mean() < 200  # scaled to 8 bits, not clipped to white
    transparent = decode(read_file(folder / "palette_transparent.png"), "p")
    assert transparent.mode == "RGB"
    huge = decode(read_file(folder / "huge_photo.jpg"), "huge")
    assert min(huge.size) < 4000 and min(huge.size) >= 256  # drafted, still large enough for Resize(256)
