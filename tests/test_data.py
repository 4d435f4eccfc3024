"""Loading faces and masks from both dataset layouts, with clear errors for bad files."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ca2sis.model.errors import DataError
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.pixels import one_hot
from ca2sis.model.labels import ANNOTATION_PARTS, COLORS, colorize, palette_bytes
from ca2sis.model.training.data import (
    CelebAMaskHQDataset,
    FolderDataset,
    load_image,
    load_mask,
    load_official_mask,
    open_dataset,
    read_id_list,
)
from ca2sis.model.training.data_check import check_training_files, write_run_summary

L_EYE, R_EYE = 4, 5


def _ids(shared, count):
    return sorted(p.stem for p in (shared / "images").glob("*.jpg"))[:count]


def _copy_faces(shared, dest, ids):
    (dest / "images").mkdir(parents=True)
    (dest / "masks").mkdir()
    for face_id in ids:
        for folder, suffix in (("images", ".jpg"), ("masks", ".png")):
            source = shared / folder / f"{face_id}{suffix}"
            (dest / folder / source.name).write_bytes(source.read_bytes())
    return dest


def _save_palette_mask(mask, path):
    image = Image.fromarray(mask.astype(np.uint8), mode="P")
    image.putpalette(palette_bytes())
    image.save(path)


def _face_with_both_eyes(shared):
    for face_id in _ids(shared, 50):
        mask = load_mask(shared / "masks" / f"{face_id}.png")
        if (mask == L_EYE).sum() > 50 and (mask == R_EYE).sum() > 50:
            return face_id
    pytest.fail("no face with both eyes in the fixture")


def test_loaders_read_a_face_at_full_and_reduced_size(face_data):
    face_id = _ids(face_data, 1)[0]
    image = load_image(face_data / "images" / f"{face_id}.jpg")
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert image.std() > 10  # a photo, not a blank
    small = load_image(face_data / "images" / f"{face_id}.jpg", size=64)
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8
    # A resized face keeps the original's colours on average.
    assert np.abs(small.mean(axis=(0, 1)) - image.mean(axis=(0, 1))).max() < 3

    mask = load_mask(face_data / "masks" / f"{face_id}.png")
    assert mask.shape == (256, 256) and mask.dtype == np.uint8
    assert mask.max() <= 18 and {0, 1, 2} <= set(np.unique(mask).tolist())
    small_mask = load_mask(face_data / "masks" / f"{face_id}.png", size=64)
    assert small_mask.shape == (64, 64)
    # Nearest resizing invents no label.
    assert set(np.unique(small_mask).tolist()) <= set(np.unique(mask).tolist())


def test_dataset_items_are_normalised_tensors(face_data):
    dataset = open_dataset(face_data, image_size=64)
    assert isinstance(dataset, FolderDataset)
    assert len(dataset) == 8 and dataset.ids == sorted(dataset.ids)  # the fixture's eight faces
    item = dataset[0]
    assert item["name"] == dataset.ids[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert item["image"].min() >= -1.0 and item["image"].max() <= 1.0
    assert item["image"].min() < -0.5 and item["image"].max() > 0.5  # the full range is used
    assert item["mask"].shape == (64, 64) and item["mask"].dtype == torch.int64
    assert item["mask"].min() >= 0 and item["mask"].max() <= 18
    with pytest.raises(IndexError):
        dataset[len(dataset)]


@pytest.mark.parametrize("bad_label", [19, 255])
def test_mask_with_a_label_out_of_range_is_rejected_naming_the_file(
    face_data, tmp_path, bad_label
):
    ids = _ids(face_data, 2)
    root = _copy_faces(face_data, tmp_path / "data", ids)
    bad = root / "masks" / f"{ids[1]}.png"
    mask = load_mask(bad)
    mask[:10, :10] = bad_label
    _save_palette_mask(mask, bad)
    dataset = open_dataset(root, image_size=64)
    dataset[0]  # the good face still loads
    with pytest.raises(DataError, match=rf"{bad.name}.*labels \[{bad_label}\] are outside 0..18"):
        dataset[1]
    # The same for a grey index mask read on its own.
    Image.fromarray(mask).save(tmp_path / "grey.png")
    with pytest.raises(DataError, match=rf"grey\.png.*\[{bad_label}\]"):
        load_mask(tmp_path / "grey.png")


def test_corrupt_image_is_rejected_naming_the_file(face_data, tmp_path):
    ids = _ids(face_data, 2)
    root = _copy_faces(face_data, tmp_path / "data", ids)
    truncated = root / "images" / f"{ids[0]}.jpg"
    truncated.write_bytes(truncated.read_bytes()[:2000])
    dataset = open_dataset(root, image_size=64)
    with pytest.raises(DataError, match=rf"{truncated.name}: cannot decode"):
        dataset[0]
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match=r"junk\.jpg: cannot decode"):
        load_image(junk)
    with pytest.raises(DataError, match=r"junk\.jpg: cannot decode"):
        load_mask(junk)
    with pytest.raises(DataError, match=r"absent\.png: file not found"):
        load_image(tmp_path / "absent.png")


def test_decompression_bomb_is_rejected_without_changing_global_state(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (40, 40)).save(path)
    filters_before = list(warnings.filters)
    # 1600 pixels: above the limit (PIL would only warn) and above twice the limit (error).
    for limit in (1000, 500):
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with pytest.raises(DataError, match=r"big\.png: image is too large"):
            load_image(path)
    assert warnings.filters == filters_before
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    assert load_image(path).shape == (40, 40, 3)


def test_any_image_mode_becomes_rgb(tmp_path):
    cases = {  # mode, fill value, file, expected RGB
        "L": (128, "grey.png", (128, 128, 128)),
        "RGBA": ((10, 20, 30, 255), "rgba.png", (10, 20, 30)),
        "CMYK": ((0, 0, 0, 0), "cmyk.jpg", (255, 255, 255)),
        "I;16": (65535, "sixteen.png", (255, 255, 255)),
    }
    for mode, (fill, name, expected) in cases.items():
        Image.new(mode, (20, 10), fill).save(tmp_path / name)
        image = load_image(tmp_path / name, size=16)  # non-square becomes square
        assert image.shape == (16, 16, 3) and image.dtype == np.uint8, mode
        assert np.abs(image.astype(int) - expected).max() <= 2, (mode, image[0, 0])
    # 16-bit mid-grey is scaled, not clipped at 255.
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp_path / "mid16.png")
    assert abs(int(load_image(tmp_path / "mid16.png")[0, 0, 0]) - 128) <= 1


def test_colour_coded_mask_gives_the_same_indices_as_the_palette_one(face_data, tmp_path):
    palette_path = face_data / "masks" / f"{_ids(face_data, 1)[0]}.png"
    indices = load_mask(palette_path)
    assert Image.open(palette_path).mode == "P"
    Image.fromarray(colorize(indices)).save(tmp_path / "rgb.png")
    assert np.array_equal(load_mask(tmp_path / "rgb.png"), indices)
    assert np.array_equal(load_mask(tmp_path / "rgb.png", size=64), load_mask(palette_path, 64))
    # Every palette colour maps to its own class.
    all_classes = np.arange(len(COLORS), dtype=np.uint8).reshape(1, -1)
    Image.fromarray(colorize(all_classes)).save(tmp_path / "all.png")
    assert np.array_equal(load_mask(tmp_path / "all.png"), all_classes)
    # A colour outside the palette (e.g. a JPEG-smudged edge) is named.
    smudged = colorize(indices)
    smudged[5, 5] = (1, 2, 3)
    Image.fromarray(smudged).save(tmp_path / "smudged.png")
    with pytest.raises(DataError, match=r"smudged\.png: colour \(1, 2, 3\) is not in the"):
        load_mask(tmp_path / "smudged.png")


def test_flip_mirrors_the_face_and_swaps_left_and_right(face_data):
    face_id = _face_with_both_eyes(face_data)
    dataset = open_dataset(face_data, image_size=128, flip=True, include=[face_id])
    assert len(dataset) == 2
    original, mirrored = dataset[0], dataset[1]
    assert original["name"] == face_id and mirrored["name"] == f"{face_id}:flip"
    assert torch.equal(mirrored["image"], original["image"].flip(-1))
    before, after = original["mask"], mirrored["mask"]
    # The mirrored l_eye is exactly where the original r_eye lands once mirrored.
    assert torch.equal(after == L_EYE, before.flip(-1) == R_EYE)
    assert int((after == L_EYE).sum()) == int((before == R_EYE).sum()) > 0
    assert int((after == R_EYE).sum()) == int((before == L_EYE).sum()) > 0
    # The person's left eye is on the right half of the picture, before and after.
    for mask in (before, after):
        assert torch.nonzero(mask == L_EYE)[:, 1].float().mean() > mask.shape[1] / 2
    # Mirroring twice (with the l/r swap written out here) gives back the original.
    swap = torch.tensor([0, 1, 2, 3, 5, 4, 7, 6, 9, 8, *range(10, 19)])
    assert torch.equal(swap[after.flip(-1)], before)
    assert torch.equal(mirrored["image"].flip(-1), original["image"])


def test_dataset_draws_no_random_numbers(face_data):
    dataset = open_dataset(face_data, image_size=32, flip=True, include=_ids(face_data, 2))
    torch_state, numpy_state, python_state = (
        torch.get_rng_state(),
        np.random.get_state()[1].copy(),
        random.getstate(),
    )
    first = [dataset[i] for i in range(len(dataset))]
    again = [dataset[i] for i in range(len(dataset))]
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)
    assert random.getstate() == python_state
    for a, b in zip(first, again):
        assert a["name"] == b["name"]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])


def test_official_layout_merges_the_parts_into_the_source_mask(face_data, tmp_path):
    root = tmp_path / "CelebAMask-HQ"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    (root / "CelebAMask-HQ-mask-anno" / "0").mkdir(parents=True)
    sources = _ids(face_data, 2)
    for face_id, source in enumerate(sources):
        photo = Image.open(face_data / "images" / f"{source}.jpg").resize((1024, 1024))
        photo.save(root / "CelebA-HQ-img" / f"{face_id}.jpg")
        mask = load_mask(face_data / "masks" / f"{source}.png")
        for index, part in enumerate(ANNOTATION_PARTS, start=1):
            if not (mask == index).any():
                continue  # a missing file means the part is absent
            binary = ((mask == index) * 255).astype(np.uint8)
            # Face 0 as grey PNGs, face 1 as RGB ones: both occur in the wild.
            part_image = Image.fromarray(binary if face_id == 0 else np.dstack([binary] * 3))
            part_image.save(root / "CelebAMask-HQ-mask-anno" / "0" / f"{face_id:05d}_{part}.png")
    dataset = open_dataset(root, image_size=256)
    assert isinstance(dataset, CelebAMaskHQDataset)
    assert dataset.ids == ["0", "1"]
    for face_id, source in enumerate(sources):
        item = dataset[face_id]
        expected = load_mask(face_data / "masks" / f"{source}.png", size=256)
        assert np.array_equal(item["mask"].numpy(), expected)
        assert item["image"].shape == (3, 256, 256) and item["name"] == str(face_id)
    assert np.array_equal(
        load_official_mask(root, 1), load_mask(face_data / "masks" / f"{sources[1]}.png")
    )


def test_official_parts_later_classes_overwrite_earlier_ones(tmp_path):
    folder = tmp_path / "CelebAMask-HQ-mask-anno" / "1"
    folder.mkdir(parents=True)
    face_id = 2345  # lives in folder 2345 // 2000 = 1

    def part(name, rows):
        binary = np.zeros((8, 8), np.uint8)
        binary[rows] = 255
        Image.fromarray(binary).save(folder / f"{face_id:05d}_{name}.png")

    part("skin", slice(0, 6))
    part("nose", slice(2, 4))
    part("hair", slice(3, 8))  # overlaps nose on row 3 and skin on rows 3..5
    merged = load_official_mask(tmp_path, face_id)
    assert merged[:, 0].tolist() == [1, 1, 2, 13, 13, 13, 13, 13]
    with pytest.raises(DataError, match=r"face 7: no part annotation 00007_<part>\.png"):
        load_official_mask(tmp_path, 7)


def test_open_dataset_explains_what_a_dataset_folder_must_hold(face_data, tmp_path):
    with pytest.raises(DataError, match=r"expected images/ \+ masks/.*CelebA-HQ-img/"):
        open_dataset(tmp_path, image_size=64)
    with pytest.raises(DataError, match="dataset folder not found"):
        open_dataset(tmp_path / "missing", image_size=64)
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    with pytest.raises(DataError, match="empty"):
        open_dataset(tmp_path / "empty", image_size=64)
    ids = _ids(face_data, 3)
    root = _copy_faces(face_data, tmp_path / "data", ids)
    (root / "masks" / f"{ids[2]}.png").rename(tmp_path / "kept.png")
    with pytest.raises(DataError, match=rf"{ids[2]}\.jpg has no mask"):
        open_dataset(root, image_size=64)
    (tmp_path / "kept.png").rename(root / "masks" / f"{ids[2]}.png")
    (root / "images" / f"{ids[1]}.jpg").unlink()
    with pytest.raises(DataError, match=rf"{ids[1]}\.png has no image"):
        open_dataset(root, image_size=64)


def test_holdout_list_excludes_faces_and_include_restricts(face_data, tmp_path):
    ids = _ids(face_data, 3)
    holdout = tmp_path / "holdout.txt"
    holdout.write_text(f"# validation faces\n{ids[0]}\n\n  {ids[2]}  # another\n")
    assert read_id_list(holdout) == [ids[0], ids[2]]
    dataset = open_dataset(face_data, image_size=64, exclude=read_id_list(holdout))
    assert len(dataset) == 6 and ids[1] in dataset.ids
    assert ids[0] not in dataset.ids and ids[2] not in dataset.ids
    kept = open_dataset(face_data, image_size=64, include=ids, exclude=[ids[1]], flip=True)
    assert kept.ids == [ids[0], ids[2]] and len(kept) == 4
    with pytest.raises(DataError, match="unknown face ids.*no-such-face"):
        open_dataset(face_data, image_size=64, include=[ids[0], "no-such-face"])


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_one_hot_sums_to_one_and_gives_back_the_mask(device):
    mask = torch.randint(0, 19, (2, 8, 8), generator=torch.Generator().manual_seed(0)).to(device)
    encoded = one_hot(mask)
    assert encoded.shape == (2, 19, 8, 8) and encoded.dtype == torch.float32
    assert encoded.device == mask.device
    assert torch.equal(encoded.sum(1), torch.ones(2, 8, 8, device=device))
    assert torch.equal(encoded.argmax(1), mask)


# ---- a training folder is checked once, every bad file reported at once ---------------------------------
def small_dataset(face_data: Path, folder: Path, count: int = 6) -> list[str]:
    """``count`` fixture faces at 64 px in images/ + masks/; returns their ids."""
    names = sorted(p.stem for p in (face_data / "images").glob("*.jpg"))[:count]
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for name in names:
        Image.open(face_data / "images" / f"{name}.jpg").resize((64, 64)).save(folder / "images" / f"{name}.jpg")
        Image.open(face_data / "masks" / f"{name}.png").resize((64, 64), Image.Resampling.NEAREST).save(
            folder / "masks" / f"{name}.png")
    return names


def spoil(folder: Path, names: list[str]) -> dict[str, str]:
    """Four kinds of bad file, one per face; returns face id → what the error must say."""
    truncated = folder / "images" / f"{names[0]}.jpg"
    truncated.write_bytes(truncated.read_bytes()[:-200])
    Image.fromarray(np.full((64, 64), 40, np.uint8)).save(folder / "masks" / f"{names[1]}.png")
    Image.new("RGB", (64, 48)).save(folder / "images" / f"{names[2]}.jpg")
    (folder / "masks" / f"{names[3]}.png").write_bytes(b"\x89PNG not really")
    return {names[0]: "truncated", names[1]: "outside 0..18", names[2]: "64x48", names[3]: "cannot decode"}


def test_every_bad_training_file_is_reported_at_once(face_data, tmp_path):
    names = small_dataset(face_data, tmp_path)
    expected = spoil(tmp_path, names)
    dataset = open_dataset(tmp_path, 64)
    with pytest.raises(DataError) as error:
        check_training_files(dataset)
    message = str(error.value)
    assert message.startswith(f"4 of 6 faces in {tmp_path} cannot be used") and "--skip-bad" in message
    for face_id, problem in expected.items():
        line = next(line for line in message.splitlines() if face_id in line)
        assert problem in line
    assert check_training_files(dataset, skip_bad=True) == names[4:]
    for face_id in names[4:]:
        (tmp_path / "masks" / f"{face_id}.png").write_bytes(b"")
    with pytest.raises(DataError, match="no face is left"):
        check_training_files(dataset, skip_bad=True)


def test_a_clean_folder_passes_the_check_whole(face_data):
    dataset = open_dataset(face_data, 64)
    assert check_training_files(dataset) == dataset.ids


def test_training_and_the_engine_share_the_square_rule(tiny_weights, face_data, tmp_path):
    names = small_dataset(face_data, tmp_path, count=2)
    wide = tmp_path / "images" / f"{names[0]}.jpg"
    Image.new("RGB", (96, 64)).save(wide)
    with pytest.raises(DataError) as training:
        check_training_files(open_dataset(tmp_path, 64))
    engine = Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")
    with pytest.raises(DataError) as editing:
        engine.load_image(wide)
    assert str(editing.value) in str(training.value)


# ---- the run summary ------------------------------------------------------------------------------------
def test_a_summary_without_a_speed_keeps_the_last_one(tmp_path):
    path = tmp_path / "summary-synthesis.json"
    write_run_summary(path, {"step": 10, "images_per_second": 12.5, "losses": {"l1": 0.5}})
    written = write_run_summary(path, {"step": 10, "images_per_second": float("nan"), "losses": {"l1": float("inf")}})
    assert written == {"step": 10, "images_per_second": 12.5, "losses": {"l1": None}}
    assert json.loads(path.read_text()) == written  # strict JSON: no NaN
    fresh = tmp_path / "fresh.json"
    assert write_run_summary(fresh, {"images_per_second": float("nan")}) == {"images_per_second": None}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fresh.json", "summary-synthesis.json"]
