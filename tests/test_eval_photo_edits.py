"""`ca2sis-eval photo-edits`: the framed-photo measure judges kept results as a user would.

The case is two photos of the committed set (``benchmarks/framed-photos``) and, standing in
for their validation faces (celebamask-mini is not in the repository), the photos mapped back
into the faces' 512 px frame by their recorded framing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ca2sis.model.cli import eval as cli_eval
from ca2sis.model.evaluation.photo_edits import untouched_share

SET = Path(__file__).resolve().parents[1] / "benchmarks" / "framed-photos"
PHOTOS = ("tight-dark-long", "dark-bg-blonde")  # the first hair swap: dark hair given light hair


def small_set(tmp_path: Path) -> tuple[Path, Path]:
    """(data folder, set folder) holding the two photos and their faces."""
    records = {record["name"]: record for record in json.loads((SET / "photos.json").read_text())["photos"]}
    folder, data = tmp_path / "set", tmp_path / "data"
    for sub in (folder, data / "images", data / "masks"):
        sub.mkdir(parents=True)
    for name in PHOTOS:
        record = records[name]
        for suffix in (".jpg", ".png"):
            shutil.copy(SET / f"{name}{suffix}", folder / f"{name}{suffix}")
        to_face = cv2.invertAffineTransform(np.array(record["face_to_photo"], np.float64))
        photo = np.array(Image.open(SET / f"{name}.jpg").convert("RGB"))
        mask = np.array(Image.open(SET / f"{name}.png"))
        Image.fromarray(cv2.warpAffine(photo, to_face, (512, 512), flags=cv2.INTER_LINEAR)).save(
            data / "images" / f"{record['face_id']}.jpg", quality=95)
        Image.fromarray(cv2.warpAffine(mask, to_face, (512, 512), flags=cv2.INTER_NEAREST)).save(
            data / "masks" / f"{record['face_id']}.png")
    (folder / "photos.json").write_text(json.dumps({"photos": [records[name] for name in PHOTOS]}))
    return data, folder


def test_a_hair_swap_that_left_the_photo_as_it_was_is_thrown_away(tmp_path, capsys):
    data, folder = small_set(tmp_path)
    kept = tmp_path / "kept"
    kept.mkdir()
    Image.open(folder / "tight-dark-long.jpg").save(kept / "unchanged.png")  # the "edited" photo: the photo itself
    earlier = {"command": "earlier run", "edit_command": "ca2sis-edit", "pythonpath": "", "seconds": 1.0,
               "edits": [{"id": "hair-00-tight-dark-long", "photo": "tight-dark-long", "part": "hair",
                          "reference": "dark-bg-blonde", "tags": ["dark-to-light"], "seconds": 1.0,
                          "result": "unchanged.png"}]}
    (kept / "results.json").write_text(json.dumps(earlier))
    out = tmp_path / "report.json"

    code = cli_eval.main(["photo-edits", "--data", str(data), "--set", str(folder), "--parts", "hair", "--count", "1",
                          "--keep-images", str(kept), "--measure-only", "--out", str(out)])

    assert code == 0
    report = json.loads(out.read_text())
    row = report["edits"][0]
    # The hair stayed short of the light target (all but its lightest sheen, which was already
    # there), and all of the colour gap is left.
    assert row["reasons"] == ["untouched", "left"] and row["thrown_away"]
    assert row["untouched"] > 0.9 and row["left"] == 1.0 and row["gap"] > 20
    assert row["band_change"] == 0 and row["change_outside"] == 0 and row["detail"] == 1.0
    assert report["summary"]["hair"]["thrown_away_share"] == 1.0
    assert "| hair | 1 | 0 | 1 |" in capsys.readouterr().out


def test_each_photo_against_its_own_face_shows_no_colour_gap(tmp_path):
    data, folder = small_set(tmp_path)
    assert cli_eval.main(["photo-edits", "--data", str(data), "--set", str(folder), "--check-targets"]) == 0


def test_measuring_again_needs_the_folder_of_an_earlier_run(tmp_path, capsys):
    data, folder = small_set(tmp_path)
    code = cli_eval.main(["photo-edits", "--data", str(data), "--set", str(folder), "--measure-only",
                          "--keep-images", str(tmp_path / "nothing-here")])
    assert code == 2
    assert "no results of an earlier run" in capsys.readouterr().err


def test_a_report_onto_a_photo_of_the_set_is_refused_before_anything_runs(tmp_path, capsys):
    data, folder = small_set(tmp_path)
    before = (folder / "tight-dark-long.png").read_bytes()
    code = cli_eval.main(["photo-edits", "--data", str(data), "--set", str(folder), "--parts", "hair", "--count", "1",
                          "--out", str(folder / "tight-dark-long.png"), "--edit-command", "false"])
    assert code == 2
    assert "--out" in capsys.readouterr().err
    assert (folder / "tight-dark-long.png").read_bytes() == before


def test_a_pixel_already_at_the_colour_asked_for_is_not_counted_as_left_untouched():
    """Hair made near-black: its near-black shadows have nowhere to go and are not a box; the
    pixels that had far to go and stayed are."""
    target = np.array([10.0, 0.0, 0.0])
    shadows = np.tile([11.0, 0.0, 0.0], (30, 1))  # within a fifth of the gap of the target already
    lit = np.tile([60.0, 5.0, 20.0], (70, 1))
    before = np.concatenate([shadows, lit])
    darkened = before.copy()
    darkened[30:] = [12.0, 1.0, 2.0]  # every lit pixel carried to the target, the shadows left as they were
    assert untouched_share(before, darkened, target) == 0.0
    boxed = darkened.copy()
    boxed[30:40] = lit[:10]  # a tenth of the hair outside the edit's box kept its old colour
    assert untouched_share(before, boxed, target) == 0.1
