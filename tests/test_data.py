"""Loading faces and masks from both dataset layouts, with clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ca2sis.model.data import (
    FolderDataset,
    load_image,
    load_mask,
    one_hot,
    open_dataset,
    read_id_list,
)
from ca2sis.model.errors import DataError
from ca2sis.model.labels import ANNOTATION_PARTS, COLORS, colorize, palette_bytes


def _first_ids(root, count):
    return sorted(p.stem for p in (root / "images").glob("*.jpg"))[:count]


def _copy_faces(shared, dest, ids):
    (dest / "images").mkdir(parents=True)
    (dest / "masks").mkdir()
    for face_id in ids:
        (dest / "images" / f"{face_id}.jpg").write_bytes((shared / "images" / f"{face_id}.jpg").read_bytes())
        (dest / "masks" / f"{face_id}.png").write_bytes((shared / "masks" / f"{face_id}.png").read_bytes())


def test_loader_reads_the_shared_faces(shared_data):
    dataset = open_dataset(shared_data, image_size=64)
    assert len(dataset) == 900
    item = dataset[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert -1.0 <= item["image"].min() and item["image"].max() <= 1.0
    assert item["mask"].shape == (64, 64) and item["mask"].dtype == torch.int64
    assert 0 <= item["mask"].min() and item["mask"].max() <= 18
    full = load_mask(shared_data / "masks" / f"{item['name']}.png")
    assert full.shape == (512, 512)
    # Nearest resizing invents no label.
    assert set(np.unique(item["mask"].numpy())) <= set(np.unique(full))


def test_bad_masks_are_rejected_naming_the_file(shared_data, tmp_path):
    ids = _first_ids(shared_data, 2)
    _copy_faces(shared_data, tmp_path / "data", ids)
    bad = tmp_path / "data" / "masks" / f"{ids[1]}.png"
    array = np.zeros((512, 512), np.uint8)
    array[:10, :10] = 19
    Image.fromarray(array).save(bad)
    dataset = open_dataset(tmp_path / "data", image_size=64)
    dataset[0]  # the good face still loads
    with pytest.raises(DataError, match=rf"{bad.name}.*labels \[19\] are outside 0..18"):
        dataset[1]
    # An RGB mask with colours outside the palette.
    Image.new("RGB", (8, 8), (1, 2, 3)).save(bad)
    with pytest.raises(DataError, match=r"colour \(1, 2, 3\) is not in the CelebAMask-HQ palette"):
        load_mask(bad)


def test_corrupt_images_are_rejected_naming_the_file(shared_data, tmp_path):
    ids = _first_ids(shared_data, 2)
    _copy_faces(shared_data, tmp_path / "data", ids)
    broken = tmp_path / "data" / "images" / f"{ids[0]}.jpg"
    broken.write_bytes(broken.read_bytes()[:300])
    with pytest.raises(DataError, match=broken.name):
        open_dataset(tmp_path / "data", image_size=64)[0]
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="junk.png: cannot decode"):
        load_image(junk)


def test_any_image_mode_is_converted(tmp_path):
    for mode in ("L", "RGBA", "CMYK", "I;16"):
        path = tmp_path / f"face-{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}"
        Image.new(mode, (20, 10)).save(path)
        image = load_image(path, size=16)
        assert image.shape == (16, 16, 3) and image.dtype == np.uint8


def test_colour_coded_mask_gives_the_same_indices(shared_data, tmp_path):
    path = shared_data / "masks" / f"{_first_ids(shared_data, 1)[0]}.png"
    indices = load_mask(path)
    Image.fromarray(colorize(indices)).save(tmp_path / "rgb.png")
    assert np.array_equal(load_mask(tmp_path / "rgb.png"), indices)
    palette = Image.fromarray(indices, mode="P")
    palette.putpalette(palette_bytes())
    assert palette.getpalette()[: 3 * len(COLORS)] == [c for rgb in COLORS for c in rgb]


def test_flip_mirrors_the_face_and_swaps_left_and_right(shared_data):
    dataset = open_dataset(shared_data, image_size=128, flip=True)
    n = len(dataset) // 2
    index = next(i for i in range(n) if {4, 5} <= set(dataset[i]["mask"].unique().tolist()))
    original, mirrored = dataset[index], dataset[index + n]
    assert mirrored["name"].endswith(":flip")
    assert torch.equal(mirrored["image"], original["image"].flip(-1))
    counts = lambda mask, c: int((mask == c).sum())  # noqa: E731
    assert counts(mirrored["mask"], 4) == counts(original["mask"], 5)
    assert counts(mirrored["mask"], 5) == counts(original["mask"], 4)
    # The person's left eye is on the right half of the picture, before and after.
    width = original["mask"].shape[1]
    for item in (original, mirrored):
        columns = torch.nonzero(item["mask"] == 4)[:, 1].float()
        assert columns.mean() > width / 2
    # Mirroring twice is the identity: mirror the mirrored mask with the same rule.
    twice = mirrored["mask"].flip(-1)
    remap = torch.tensor([0, 1, 2, 3, 5, 4, 7, 6, 9, 8, *range(10, 19)])
    assert torch.equal(remap[twice], original["mask"])


def test_official_celebamask_hq_layout(shared_data, tmp_path):
    root = tmp_path / "CelebAMask-HQ"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    (root / "CelebAMask-HQ-mask-anno" / "0").mkdir(parents=True)
    sources = _first_ids(shared_data, 2)
    for face_id, source in enumerate(sources):
        Image.open(shared_data / "images" / f"{source}.jpg").resize((1024, 1024)).save(
            root / "CelebA-HQ-img" / f"{face_id}.jpg"
        )
        mask = load_mask(shared_data / "masks" / f"{source}.png")
        for index, part in enumerate(ANNOTATION_PARTS, start=1):
            if (mask == index).any():
                Image.fromarray(((mask == index) * 255).astype(np.uint8)).save(
                    root / "CelebAMask-HQ-mask-anno" / "0" / f"{face_id:05d}_{part}.png"
                )
    dataset = open_dataset(root, image_size=256)
    assert dataset.ids == ["0", "1"]
    for face_id, source in enumerate(sources):
        expected = load_mask(shared_data / "masks" / f"{source}.png", size=256)
        assert np.array_equal(dataset[face_id]["mask"].numpy(), expected)
    assert dataset[0]["image"].shape == (3, 256, 256)


def test_folder_problems_are_clear(shared_data, tmp_path):
    with pytest.raises(DataError, match="expected images/ \\+ masks/"):
        open_dataset(tmp_path, image_size=64)
    with pytest.raises(DataError, match="not found"):
        open_dataset(tmp_path / "missing", image_size=64)
    ids = _first_ids(shared_data, 3)
    _copy_faces(shared_data, tmp_path / "data", ids)
    (tmp_path / "data" / "masks" / f"{ids[2]}.png").unlink()
    with pytest.raises(DataError, match=f"{ids[2]}.jpg has no mask"):
        FolderDataset(tmp_path / "data", 64)


def test_holdout_list_excludes_faces(shared_data, tmp_path):
    ids = _first_ids(shared_data, 3)
    holdout = tmp_path / "holdout.txt"
    holdout.write_text(f"# validation faces\n{ids[0]}\n\n{ids[2]}  # another\n")
    assert read_id_list(holdout) == [ids[0], ids[2]]
    dataset = open_dataset(shared_data, image_size=64, exclude=read_id_list(holdout))
    assert len(dataset) == 898 and ids[0] not in dataset.ids and ids[1] in dataset.ids


def test_one_hot_matches_the_mask():
    mask = torch.randint(0, 19, (2, 8, 8))
    encoded = one_hot(mask)
    assert encoded.shape == (2, 19, 8, 8)
    assert torch.equal(encoded.sum(1), torch.ones(2, 8, 8))
    assert torch.equal(encoded.argmax(1), mask)
