"""Files that change between the folder listing and their decoding: deleted, truncated, made
unreadable or replaced. Each is skipped with its reason or indexed as it is now; the run goes on."""

from __future__ import annotations

import hashlib
import shutil

from retrieval.finding import GONE
from retrieval.indexing import IndexReport, index_folder
from retrieval.vision.decode import load_image
from tests.support.paths import DEMO_IMAGES


def test_files_deleted_truncated_unreadable_or_replaced_during_a_run_are_skipped_or_indexed_as_they_are(store, lite, tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(DEMO_IMAGES, folder, ignore=shutil.ignore_patterns("*.md", "*.csv"))
    photos = sorted(folder.glob("*.jpg"))
    deleted, truncated, unreadable, replaced = photos[3], photos[8], photos[13], photos[21]
    salad = (DEMO_IMAGES / "everyday_food_salad_01.jpg").read_bytes()

    def change_files(report: IndexReport) -> None:
        """Called first after the folder is listed and before any file is read: the files change under the run."""
        if report.done:
            return
        deleted.unlink()
        truncated.write_bytes(truncated.read_bytes()[:300])
        unreadable.unlink()
        unreadable.symlink_to(tmp_path / "nowhere.jpg")  # a link to nothing: cannot be opened, even by root
        replaced.write_bytes(salad)

    report = index_folder(store, lite, folder, progress=change_files)
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {str(deleted), str(truncated), str(unreadable)}
    assert reasons[str(deleted)] == reasons[str(unreadable)] == GONE
    assert reasons[str(truncated)].startswith("damaged or truncated image data")
    assert report.new == len(photos) - 3
    stored = store.driver.execute_query("MATCH (i:Image {path: $path}) RETURN i.sha256 AS sha", path=str(replaced)).records
    assert stored[0]["sha"] == hashlib.sha256(salad).hexdigest()  # indexed as it is now
    assert float(store.vector_of(lite.spec.space, str(replaced)) @ lite.embed([load_image(replaced)])[0]) > 0.9999
