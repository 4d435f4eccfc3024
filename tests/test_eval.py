"""`ca2sis-eval` and its metrics: PSNR, SSIM, SWD and style leakage on known cases, and the
command line end to end on a few shared faces with tiny random weights."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ca2sis.model.cli import eval as cli_eval
from ca2sis.model.evaluation.identity import IdentityEmbedder, cosine_similarity
from ca2sis.model.evaluation.image_quality import psnr, ssim
from ca2sis.model.evaluation.leakage import dilate, style_leakage, style_transfer
from ca2sis.model.evaluation.part_swaps import measure_part_swaps
from ca2sis.model.evaluation.pipeline import evaluate
from ca2sis.model.evaluation.report import METRICS, markdown_table
from ca2sis.model.evaluation.swd import laplacian_pyramid, swd, swd_descriptors
from ca2sis.model.inference.engine import Engine
from ca2sis.model.labels import CLASS_NAMES, NUM_CLASSES


def smooth_images(count: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Face-like statistics without faces: low-frequency colour fields, uint8 (B, S, S, 3)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (count, 6, 6, 3)).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(c).resize((size, size), Image.Resampling.BICUBIC)) for c in coarse])


def _descriptors(images: np.ndarray, seed: int) -> list[np.ndarray]:
    return swd_descriptors(images, np.random.default_rng(seed))


def test_laplacian_pyramid_goes_down_to_16_pixels():
    levels = laplacian_pyramid(smooth_images(2, 128))
    assert [level.shape[-1] for level in levels] == [128, 64, 32, 16]
    descriptors = _descriptors(smooth_images(2, 128), 0)
    assert [d.shape for d in descriptors] == [(256, 3, 7, 7)] * 4


def test_swd_of_a_set_with_itself_is_zero_and_grows_for_noise():
    faces = smooth_images(8)
    same = swd(_descriptors(faces, 1), _descriptors(faces, 1))
    assert same == [0.0, 0.0, 0.0]
    resampled = np.mean(swd(_descriptors(faces, 1), _descriptors(faces, 2)))  # other patches, same images
    noise = np.random.default_rng(3).integers(0, 256, faces.shape).astype(np.uint8)
    different = np.mean(swd(_descriptors(faces, 1), _descriptors(noise, 2)))
    assert different > 5 * resampled
    assert different > 100  # x1e3: a large share of the normalised descriptors' spread
    # Deterministic for a seed.
    assert swd(_descriptors(faces, 1), _descriptors(noise, 2), seed=4) == swd(
        _descriptors(faces, 1), _descriptors(noise, 2), seed=4
    )


def test_psnr_is_infinite_for_identical_images_and_follows_the_formula():
    image = smooth_images(1)[0] // 2 + 50  # 50..177: +5 cannot clip
    assert psnr(image, image) == math.inf
    shifted = image + 5
    assert psnr(image, shifted) == pytest.approx(10 * math.log10(255**2 / 25))
    values = psnr(np.stack([image, image]), np.stack([image, shifted]))
    assert values.shape == (2,) and values[0] == math.inf


def test_ssim_is_one_for_identical_images_and_lower_for_a_blurred_copy():
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(image).resize((16, 16)).resize((64, 64), Image.Resampling.BICUBIC))
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    from PIL import ImageFilter

    blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(2)))
    value = ssim(image, blurred)
    assert 0.0 < value < 0.95
    assert ssim(np.stack([image, image]), np.stack([image, blurred])).tolist() == pytest.approx([1.0, value])


def test_style_leakage_inside_the_part_is_zero_and_outside_is_one():
    reference = np.full((32, 32, 3), 100, np.uint8)
    region = np.zeros((32, 32), bool)
    region[8:16, 8:16] = True
    inside = reference.copy()
    inside[10:14, 10:14] = 200
    outside = reference.copy()
    outside[24:30, 0:5] = 30
    assert style_leakage(reference, inside, region) == 0.0
    assert style_leakage(reference, outside, region) == 1.0
    both = inside.copy()
    both[24:30, 0:5] = 30
    change_in, change_out = 16 * 100 * 3, 30 * 70 * 3  # pixels x change x channels
    assert style_leakage(reference, both, region) == pytest.approx(change_out / (change_in + change_out))
    assert math.isnan(style_leakage(reference, reference, region))
    # A change just beside the part counts as the part's once the region is dilated.
    rim = reference.copy()
    rim[16, 8:16] = 0
    assert style_leakage(reference, rim, region) == 1.0
    assert style_leakage(reference, rim, region, dilation=1) == 0.0


def test_style_transfer_measures_the_share_of_the_colour_gap_a_swap_closes():
    region = np.zeros((8, 8), bool)
    region[2:6, 2:6] = True
    before = np.full((8, 8, 3), 100, np.uint8)
    reference = np.full((8, 8, 3), 200, np.uint8)
    halfway = before.copy()
    halfway[region] = 150
    assert style_transfer(before, reference, region, reference, region) == 1.0
    assert style_transfer(before, before, region, reference, region) == 0.0
    assert style_transfer(before, halfway, region, reference, region) == pytest.approx(0.5)
    assert math.isnan(style_transfer(before, halfway, region, before, region)), "no gap to close"
    assert math.isnan(style_transfer(before, halfway, np.zeros((8, 8), bool), reference, region))


def test_dilate_grows_a_region_by_a_square():
    region = np.zeros((9, 9), bool)
    region[4, 4] = True
    grown = dilate(region, 2)
    assert grown.sum() == 25 and grown[2:7, 2:7].all()
    assert (dilate(region, 0) == region).all()


def test_identity_embedder_finds_real_faces_and_falls_back_on_noise(face_data):
    from ca2sis.model.training.data import load_image

    paths = sorted((face_data / "images").glob("*.jpg"))[:2]
    faces = [load_image(path, 64) for path in paths]
    embedder = IdentityEmbedder()
    (first, missed), (again, _), (other, _) = (embedder.embed(face) for face in (faces[0], faces[0], faces[1]))
    assert not missed and first.shape == (128,)
    assert cosine_similarity(first, again) == pytest.approx(1.0)
    assert cosine_similarity(first, other) < 0.99
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    assert embedder.embed(noise)[1]  # no face: the fixed box was used


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def four_ids(face_data, tmp_path):
    ids = sorted(p.stem for p in (face_data / "images").glob("*.jpg"))[:4]
    path = tmp_path / "ids.txt"
    path.write_text("# four faces\n" + "\n".join(ids) + "\n")
    return ids, path


@pytest.mark.slow
def test_command_line_writes_every_metric(tiny_onnx_weights, face_data, four_ids, tmp_path, capsys):
    tiny_weights = tiny_onnx_weights  # exported: the command line picks ONNX Runtime on the CPU
    ids, id_list = four_ids
    out_json, out_md = tmp_path / "out" / "report.json", tmp_path / "out" / "report.md"
    code = cli_eval.main([
        "--data", str(face_data), "--list", str(id_list), "--weights", str(tiny_weights), "--device", "cpu",
        "--json", str(out_json), "--markdown", str(out_md), "--seed", "3",
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(out_json.read_text())
    for key in METRICS:
        assert report["metrics"][key] is not None, key
    metrics, counts = report["metrics"], report["counts"]
    assert metrics["psnr"] > 0 and -1 <= metrics["ssim"] <= 1 and metrics["swd"] > 0 and metrics["swd_sh"] > 0
    assert 0 <= metrics["miou"] <= 1 and 0 <= metrics["pixel_accuracy"] <= 100
    assert -1 <= metrics["frs"] <= 1 and 0 <= metrics["style_leakage"] <= 1 and metrics["ms_per_image"] > 0
    assert metrics["style_transfer"] is not None and metrics["style_transfer"] <= 1
    assert 0 <= metrics["random_part_leakage"] <= 1  # the tiny weights have M_s
    assert list(metrics["swd_levels"]) == ["64", "32", "16"]
    assert counts["faces"] == 4 and counts["shape_swaps"] == 4 and counts["style_swaps"] == 4
    # dlib finds every real face (the fallback box is for poor generations: random weights
    # here, so most or all of those fall back).
    assert counts["identity_fallback_real"] == 0 and counts["identity_fallback_generated"] <= counts["faces"]
    assert report["config"] == "tiny" and report["image_size"] == 64 and report["seed"] == 3
    assert report["backend"].startswith("onnx") and report["device"] == "cpu"
    assert report["weights"] == str(tiny_weights) and "VGGFace2" in report["notes"]["frs"]
    assert [face["id"] for face in report["per_face"]] == ids
    for face in report["per_face"]:
        for kind in ("shape_swap", "style_swap"):
            assert face[kind]["from"] in ids and face[kind]["from"] != face["id"] and face[kind]["part"] != "background"
    table = out_md.read_text()
    assert table == captured.out
    for label, _ in METRICS.values():
        assert label in table
    assert "VGGFace2" in table and "n/a" not in table
    per_part = metrics["per_part"]
    assert set(per_part) == {"hair", "skin", "lips", "nose"} and "| lips |" in table
    assert per_part["skin"]["faces"] == 4 and 0 <= per_part["skin"]["leakage"] <= 1
    assert per_part["skin"]["random_diversity"] >= 0 and per_part["skin"]["real_diversity"] > 0


def test_one_face_and_no_identity_leave_those_metrics_unmeasured(tiny_weights, face_data):
    engine = Engine.from_pretrained(tiny_weights, device="cpu")
    report = evaluate(engine, face_data, limit=1, identity=False, progress=False, timing_faces=1)
    metrics = report["metrics"]
    assert metrics["frs"] is None and metrics["identity_match"] is None
    assert metrics["swd_sh"] is None and metrics["style_leakage"] is None
    assert metrics["psnr"] is not None and metrics["miou"] is not None
    assert report["counts"]["faces"] == 1 and report["counts"]["shape_swaps"] == 0
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN or inf left
    assert "n/a" in markdown_table(report)


def test_selected_metrics_are_measured_alone_and_the_others_left_out(tiny_weights, face_data, capsys):
    """A user skipping the slow ones: only the named metrics are measured and shown."""
    engine = Engine.from_pretrained(tiny_weights, device="cpu")
    report = evaluate(engine, face_data, limit=2, progress=False, metrics=["psnr", "swd"])
    metrics = report["metrics"]
    assert report["selected_metrics"] == ["psnr", "swd"]
    assert metrics["psnr"] > 0 and metrics["swd"] > 0 and list(metrics["swd_levels"]) == ["64", "32", "16"]
    skipped_keys = ("ssim", "swd_sh", "miou", "frs", "style_leakage", "random_part_leakage", "per_part", "ms_per_image")
    for skipped in skipped_keys:
        assert metrics[skipped] is None, skipped
    assert report["counts"]["shape_swaps"] == 0 and report["per_face"][0].keys() == {"id", "psnr"}
    table = markdown_table(report)
    assert METRICS["psnr"][0] in table and METRICS["swd"][0] in table
    assert METRICS["ssim"][0] not in table and "Per part" not in table and "n/a" not in table
    # The same faces with more metrics selected: the shared ones keep their values.
    more = evaluate(engine, face_data, limit=2, progress=False, metrics=["psnr", "swd", "swd_sh", "style_swaps"],
                    identity=False)
    assert more["metrics"]["psnr"] == pytest.approx(metrics["psnr"], rel=1e-4)
    assert more["metrics"]["swd"] == pytest.approx(metrics["swd"], rel=1e-3)
    assert more["metrics"]["swd_sh"] is not None and more["metrics"]["style_leakage"] is not None

    with pytest.raises(SystemExit) as exit_info:
        cli_eval.main(["--data", str(face_data), "--metrics", "psnr,fid"])
    assert exit_info.value.code == 2 and "unknown metric fid" in capsys.readouterr().err


def test_command_line_errors_have_exit_codes(tiny_weights, face_data, tmp_path, capsys):
    missing = cli_eval.main(["--data", str(face_data), "--weights", str(tmp_path / "nowhere"), "--limit", "1"])
    error = capsys.readouterr().err
    assert missing == 3 and error.startswith("error:") and "Traceback" not in error

    no_parser = cli_eval.main(["--data", str(face_data), "--weights", str(tiny_weights), "--limit", "1",
                               "--parser-weights", str(tmp_path / "no-parser")])
    assert no_parser == 3 and "no face parser" in capsys.readouterr().err

    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "masks").mkdir()
    code = cli_eval.main(["--data", str(empty), "--weights", str(tiny_weights), "--json", str(tmp_path / "r.json")])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("error:") and "empty" in error and "Traceback" not in error
    assert not (tmp_path / "r.json").exists()

    not_a_dataset = cli_eval.main(["--data", str(tmp_path / "nothing"), "--weights", str(tiny_weights)])
    assert not_a_dataset == 2 and "not found" in capsys.readouterr().err

    unknown_id = tmp_path / "ids.txt"
    unknown_id.write_text("no-such-face\n")
    code = cli_eval.main(["--data", str(face_data), "--list", str(unknown_id), "--weights", str(tiny_weights)])
    assert code == 2 and "unknown face ids" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exit_info:  # argparse: bad values exit 2 as well
        cli_eval.main(["--data", str(face_data), "--limit", "0"])
    assert exit_info.value.code == 2


def test_compare_size_measures_a_small_model_on_larger_real_faces(tiny_weights, face_data):
    """A 64 px model compared at 128 px: its outputs are resized to 128 and measured against
    the real faces and masks loaded at 128, so models of two sizes meet on the same faces."""
    engine = Engine.from_pretrained(tiny_weights, device="cpu")
    # The metrics whose inputs the comparison size changes; the swap studies resize the same way.
    report = evaluate(engine, face_data, limit=2, progress=False, compare_size=128, metrics=["swd", "segmentation"])
    metrics = report["metrics"]
    assert report["image_size"] == 64 and report["compared_at"] == 128
    assert list(metrics["swd_levels"]) == ["128", "64", "32", "16"]
    assert report["settings"]["leakage_dilation_px"] == 2  # the dilation of 128 px faces
    # The parser reads real faces far better than random weights' reconstructions: the
    # real faces' mIoU is the scale the reconstructions' mIoU is judged against.
    assert 0 <= metrics["miou"] < metrics["miou_real"] <= 1 and metrics["miou_real"] > 0.4
    assert "compared at 128 px" in markdown_table(report)
    native = evaluate(engine, face_data, limit=2, progress=False, metrics=["psnr"])
    assert native["compared_at"] == 64 and "compared at" not in markdown_table(native)


class _PaintingEngine:
    """Stands in for a perfectly local generator: each class's pixels take its code's colour
    (latents carry the face's mask, one flattened plane per class)."""

    has_mapping = True

    def __init__(self, side: int):
        self.side = side

    def generate(
        self, latents: np.ndarray, codes: np.ndarray, layouts: object = None  # noqa: ARG002  (the masks are the latents)
    ) -> tuple[np.ndarray, None]:
        planes = latents.reshape(len(latents), latents.shape[1], self.side, self.side)
        return np.einsum("bchw,bck->bhwk", planes, codes).round().clip(0, 255).astype(np.uint8), None

    def random_codes(self, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).uniform(0, 255, (NUM_CLASSES, 3))


def test_part_study_scores_a_perfectly_local_generator_as_local_with_full_transfer():
    side, count = 32, 3
    rng = np.random.default_rng(0)
    masks = np.zeros((count, side, side), np.uint8)
    masks[:, 8:24, 8:24] = CLASS_NAMES.index("skin")
    masks[:, :6] = CLASS_NAMES.index("hair")
    masks[:, 14:18, 14:18] = CLASS_NAMES.index("nose")
    masks[:, 20:22, 12:20] = CLASS_NAMES.index("u_lip")
    codes = rng.uniform(0, 255, (count, NUM_CLASSES, 3))
    latents = (masks[:, None] == np.arange(NUM_CLASSES)[None, :, None, None]).reshape(count, NUM_CLASSES, -1)
    engine = _PaintingEngine(side)
    images = engine.generate(latents.astype(np.float64), codes)[0]
    study = measure_part_swaps(engine, codes, latents.astype(np.float64), images, masks, 0, lambda x: x)
    for name in ("hair", "skin", "lips", "nose"):
        found = study[name]
        assert found["faces"] == count, name
        assert found["leakage"] == 0 and found["random_leakage"] == 0, name
        assert found["transfer"] > 0.99, name
        assert found["random_diversity"] > 0 and found["real_diversity"] > 0, name


@pytest.mark.slow  # the face reader loads dlib's detector: about 15 s here
def test_the_parser_scores_are_a_subcommand_with_a_table_and_a_json_report(face_data, four_ids, tmp_path, capsys):
    # What scripts/evaluate_parser.py measured, now `ca2sis-eval parser`: the bundled parser on the
    # fixture's faces at their 256 px, without dlib's alignment timing.
    ids, id_list = four_ids
    out = tmp_path / "parser.json"
    assert cli_eval.main(["parser", "--data", str(face_data), "--list", str(id_list), "--limit", "2", "--size", "256",
                          "--no-timing", "--quiet", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert table.count("\n|") == NUM_CLASSES + 2 and "**mean over 19 classes**" in table and "2 faces" in table
    report = json.loads(out.read_text())
    assert report["faces"] == 2 and set(report["f1"]) == set(CLASS_NAMES) and report["miou"] > 0.5
    counts = np.array(report["confusion"]["counts"])
    assert counts.shape == (NUM_CLASSES, NUM_CLASSES) and counts.sum() == 2 * 256 * 256
    # A report onto one of the inputs is refused before any face is parsed.
    assert cli_eval.main(["parser", "--data", str(face_data), "--list", str(id_list), "--json", str(id_list)]) == 2
    assert capsys.readouterr().err.startswith("error:")


# ---- the command line refuses what it cannot do ---------------------------------------------------------
def test_eval_reports_onto_inputs_are_refused(tiny_weights, face_data, tmp_path, capsys):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    mask = sorted((face_data / "masks").glob("*.png"))[0]
    data_before, weights_before = digests(face_data), digests(weights)
    for option, target in [("--json", weights / "generator.safetensors"), ("--markdown", mask),
                           ("--json", weights / "config.json")]:
        code = cli_eval.main(["--data", str(face_data), "--weights", str(weights), option, str(target), "--quiet"])
        assert code == 2 and "is one of the inputs" in capsys.readouterr().err
    assert digests(face_data) == data_before and digests(weights) == weights_before


def test_a_comparison_size_beyond_memory_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_eval.main(["--data", str(tmp_path), "--compare-size", "30000"])
    assert exit_.value.code == 2 and "at most 4096" in capsys.readouterr().err
