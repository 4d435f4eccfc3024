"""The recipe for training on few faces: EMA, paired augmentation, parser losses, LeCam,
swap locality, M_s's code statistics, in-memory data, warm start and the bf16 path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ca2sis.model.config import get_config
from ca2sis.model.devices import cpu_flags
from ca2sis.model.errors import WeightsError
from ca2sis.model.faces.parser import FaceParser, FaceParserConfig, FaceParserModel
from ca2sis.model.faces.reader import default_parser_weights
from ca2sis.model.io.pixels import one_hot
from ca2sis.model.networks.composite import CA2SIS
from ca2sis.model.networks.mapping_network import MappingNetwork
from ca2sis.model.training.augment import PairedAugment
from ca2sis.model.training.data import FacesInMemory, load_image, load_mask, open_dataset
from ca2sis.model.training.distributed import bf16_is_fast
from ca2sis.model.training.ema import WeightAverage
from ca2sis.model.training.export import export_weights
from ca2sis.model.training.losses import LeCamRegularizer, ParserLoss, code_statistics_loss, swap_locality_loss
from ca2sis.model.training.objectives import pick_swap_parts
from ca2sis.model.training.run_config import TrainConfig
from ca2sis.model.training.train import Trainer
from ca2sis.model.training.warm_start import DISC_EXPORT

from conftest import FACE_DATA, random_mask

DEMO_FACES = Path(__file__).resolve().parents[1] / "assets" / "faces"  # committed demo faces


def _train_config(data, **changes) -> TrainConfig:
    base = dict(data=str(data), batch_size=2, workers=0, log_every=1, sample_every=1000,
                checkpoint_every=1000, device="cpu", seed=3)
    return TrainConfig.from_dict({**base, **changes})  # lambda_<name>: a loss weight, as the flags give it


# ---- EMA -------------------------------------------------------------------------------


def test_weight_average_follows_the_weights_at_the_rate_of_its_half_life():
    net = torch.nn.Linear(4, 4)
    ema = WeightAverage({"net": net}, half_life_kimg=0.008, rampup=None)  # halves every 8 images
    start = ema.averages["net"].weight.clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update({"net": net}, batch_images=8, images_seen=8)
    # One half-life: the average moved half way from its old value to the new weights.
    assert torch.allclose(ema.averages["net"].weight, start + 0.5, atol=1e-6)
    assert not ema.averages["net"].weight.requires_grad


@pytest.mark.slow  # a training run and its export: about 25 s
def test_export_writes_the_weight_average_and_the_discriminator(face_data, tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(get_config("tiny"), _train_config(face_data, steps=2, ema_kimg=1.0, lambda_parser=0,
                                                        lambda_semantic=0), run)
    trainer.run()
    out = tmp_path / "weights"
    export_weights(run, out, dtype=torch.float32)
    exported = load_file(str(out / "generator.safetensors"))
    averaged = trainer.ema.averages["generator"].state_dict()
    live = trainer.model.generator.state_dict()
    changed = [k for k in averaged if not torch.equal(averaged[k], live[k])]
    assert changed, "two steps should leave the average behind the live weights"
    for key in averaged:
        assert torch.equal(exported[key], averaged[key]), key
    assert (out / DISC_EXPORT).is_file()


# ---- augmentation ----------------------------------------------------------------------


def _pairs(batch: int = 3, size: int = 32) -> torch.Tensor:
    mask = random_mask(batch, size)
    # An image whose colour is a function of the class, so alignment can be checked.
    labels = mask.argmax(1, keepdim=True).float()
    image = torch.cat([labels / 18, 1 - labels / 18, (labels % 2)], 1) * 2 - 1
    return torch.cat([mask, image], 1)


def test_augmentation_is_the_identity_at_strength_zero():
    augment = PairedAugment(target=None, initial_p=0.0)
    pairs = _pairs()
    draw = augment.draw(3, 32, 32, torch.Generator().manual_seed(0))
    assert torch.equal(augment(pairs, draw), pairs)


def test_augmentation_moves_image_and_mask_together_and_pairs_get_one_draw():
    augment = PairedAugment(colour=False, target=None, initial_p=1.0)
    pairs = _pairs()
    draw = augment.draw(3, 32, 32, torch.Generator().manual_seed(1))
    assert draw.shift.abs().sum() > 0 and draw.cutout_on.any()
    out = augment(torch.cat([pairs, pairs]), draw.repeat(2))
    assert torch.equal(out[:3], out[3:]), "real and generated faces must get the same draw"
    out = out[:3]
    mask, image = out[:, :-3], out[:, -3:]
    covered = mask.sum(1) > 0
    labels = mask.argmax(1, keepdim=True).float()
    expected = torch.cat([labels / 18, 1 - labels / 18, (labels % 2)], 1) * 2 - 1
    # Wherever a class is left, the image still shows that class's colour: nothing slid apart.
    assert torch.allclose(image * covered[:, None], expected * covered[:, None], atol=1e-6)
    assert (~covered).any(), "padding and cutout leave pixels with no class"
    assert torch.all(image[~covered[:, None].expand_as(image)] == 0)


def test_ada_raises_the_strength_when_d_is_sure_of_the_real_faces():
    augment = PairedAugment(target=0.6, speed_kimg=1.0)
    augment.observe([torch.ones(4, 1, 8, 8)])  # D says "real" everywhere: overfitting
    augment.adjust(images_seen=100)
    assert math.isclose(float(augment.p), 0.1, rel_tol=1e-6)
    augment.observe([-torch.ones(4, 1, 8, 8)])
    augment.adjust(images_seen=100)
    assert float(augment.p) == pytest.approx(0.0, abs=1e-7)


# ---- parser losses, LeCam, locality, M_s -------------------------------------------------


@pytest.fixture(scope="module")
def parser_loss() -> ParserLoss:
    parser = FaceParserModel.from_pretrained(default_parser_weights())
    return ParserLoss(parser.network, parser.config.input_size)


def _demo_face(name: str, size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    image = load_image(DEMO_FACES / f"{name}.jpg", size)
    labels = load_mask(DEMO_FACES / f"{name}.png", size)
    return (torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1,
            torch.from_numpy(labels)[None].long())


def test_parser_losses_are_near_zero_for_a_real_face_against_its_own_mask(parser_loss):
    image, labels = _demo_face("face-01")
    _, other_labels = _demo_face("face-04")
    with torch.no_grad():
        perceptual, semantic = parser_loss(image, image, labels)
        _, wrong = parser_loss(image, image, other_labels)
        different, _ = parser_loss(_demo_face("face-04")[0], image, labels)
    assert perceptual.item() == 0.0
    assert semantic.item() < 0.3, "the parser should label a real face like its own mask"
    assert wrong.item() > 2 * semantic.item()
    assert different.item() > 0.1


def test_lecam_is_zero_when_predictions_sit_between_the_averages():
    lecam = LeCamRegularizer(decay=0.0)
    real = [[torch.full((2, 1, 4, 4), -1.0)]]
    fake = [[torch.full((2, 1, 4, 4), 1.0)]]
    assert lecam(real, fake).item() == 0.0  # D(real) below α_F and D(fake) above α_R
    loss = lecam([[torch.full((2, 1, 4, 4), 3.0)]], [[torch.full((2, 1, 4, 4), -3.0)]])
    assert loss.item() > 0


def test_swap_locality_is_zero_when_a_swap_changes_nothing_outside_the_part():
    torch.manual_seed(0)
    original = torch.rand(2, 3, 32, 32) * 2 - 1
    part = torch.zeros(2, 1, 32, 32)
    part[:, :, 8:16, 8:16] = 1
    reference = torch.rand(2, 3, 32, 32) * 2 - 1
    swapped = original.clone()
    swapped[:, :, 8:16, 8:16] = reference[:, :, 8:16, 8:16]  # the part takes the reference's look
    outside, transfer = swap_locality_loss(swapped, original, part, reference, part)
    assert outside.item() == 0.0 and transfer.item() < 1e-6
    leaky = swapped + 0.2 * (1 - part)
    assert swap_locality_loss(leaky, original, part, reference, part)[0].item() == pytest.approx(0.2, abs=1e-5)


def test_swapped_parts_are_present_in_the_face_and_its_donor():
    mask = random_mask(4, 32, seed=2)
    parts = pick_swap_parts(mask, 3, torch.Generator().manual_seed(0))
    for i, part in enumerate(parts.tolist()):
        assert mask[i, part].sum() > 0 and mask[(i + 1) % 4, part].sum() > 0


def test_mapping_codes_stay_in_the_encoders_range_and_statistics_loss_is_zero_for_equal_codes():
    codes = MappingNetwork(num_classes=3, code_dim=8, z_dim=4, hidden=8, branch_hidden=8)(torch.randn(64, 4) * 100)
    assert codes.abs().max() <= 1.0
    encoded = torch.rand(16, 3, 8)
    assert code_statistics_loss(encoded, encoded).item() == 0.0
    assert code_statistics_loss(encoded * 3, encoded).item() > 0.1


# ---- data, warm start, bf16 --------------------------------------------------------------


def test_faces_in_memory_give_the_same_batches_as_the_dataset(face_data):
    first_three = open_dataset(face_data, 64).ids[:3]
    dataset = open_dataset(face_data, 64, flip=True, include=first_three)
    faces = FacesInMemory(dataset, progress=False)
    indices = [0, 4, 2, 3]  # 3 and 4 are mirrored copies
    batch = faces.batch(indices)
    for row, index in enumerate(indices):
        item = dataset[index]
        assert torch.equal(batch["image"][row], item["image"])
        assert torch.equal(batch["mask"][row], item["mask"])


@pytest.fixture(scope="module")
def one_step_run(tmp_path_factory) -> Path:
    """A tiny synthesis run trained for one step (no parser losses), shared by the tests that
    export it: they only read it."""
    run = tmp_path_factory.mktemp("recipe") / "run"
    Trainer(get_config("tiny"), _train_config(FACE_DATA, steps=1, lambda_parser=0, lambda_semantic=0), run).run()
    return run


def test_warm_start_from_an_exported_folder_restores_the_same_outputs(one_step_run, face_data, tmp_path):
    weights = tmp_path / "weights"
    export_weights(one_step_run, weights)
    # The parser losses stay off: what is under test is which networks the warm start restores.
    warm = Trainer(get_config("tiny"), _train_config(face_data, steps=1, init=str(weights), lambda_parser=0,
                                                     lambda_semantic=0), tmp_path / "warm")
    exported = CA2SIS.from_pretrained(weights)
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    mask = random_mask(1, 64)
    with torch.no_grad():
        expected, _ = exported(image, mask)
        got, _ = warm.model.eval()(image, mask)
    assert torch.equal(got, expected)
    disc = load_file(str(weights / DISC_EXPORT))
    for key, value in warm.disc.state_dict().items():
        assert torch.equal(value, disc[key].float()), key


def test_synthesis_export_can_ship_the_random_part_styles_of_another_folder(one_step_run, tmp_path):
    run = one_step_run
    torch.manual_seed(5)
    bundled = tmp_path / "bundled"
    CA2SIS(get_config("tiny"), with_mapping=True).save_pretrained(bundled, dtype=torch.float32)
    plain = tmp_path / "plain"
    export_weights(run, plain)
    assert not (plain / "mapping_network.safetensors").exists()  # nothing invented
    shipped = tmp_path / "shipped"
    export_weights(run, shipped, mapping_from=bundled)
    for name in ("style_encoder", "mask_embedder", "generator"):  # the run's own networks, unchanged
        expected, got = (load_file(str(folder / f"{name}.safetensors")) for folder in (plain, shipped))
        assert all(torch.equal(got[key], value) for key, value in expected.items()), name
    theirs = load_file(str(bundled / "mapping_network.safetensors"))
    ours = load_file(str(shipped / "mapping_network.safetensors"))
    for key, value in theirs.items():
        assert torch.equal(ours[key].float(), value.half().float()), key
    other = tmp_path / "other"
    CA2SIS(get_config("tiny").replace(name="tiny-other", mapping_hidden=64), with_mapping=True).save_pretrained(other)
    with pytest.raises(WeightsError):
        export_weights(run, tmp_path / "mismatch", mapping_from=other)


@pytest.mark.slow  # two steps of every loss in bf16, which most CPUs emulate: about 5 s
def test_bf16_training_gives_finite_losses(face_data, tmp_path):
    # bf16 is emulated (slow) on CPUs without AVX512-BF16, and the bundled parser at its 256 px
    # took 35 s of it there: a tiny random parser at 64 px runs the same losses (finite, not accurate).
    config = FaceParserConfig(input_size=64, widths=(4, 8))
    FaceParserModel(FaceParser.from_config(config), config).save_pretrained(tmp_path / "parser")
    trainer = Trainer(get_config("tiny"), _train_config(face_data, steps=2, precision="bf16", augment="always",
                                                        parser_faces=1, parser_weights=str(tmp_path / "parser")),
                      tmp_path / "run")
    summary = trainer.run()
    assert summary["step"] == 2
    assert all(math.isfinite(v) for v in summary["losses"].values()), summary["losses"]
    assert {"parser", "semantic", "swap_out", "lecam"} <= set(summary["losses"])


def test_one_hot_of_in_memory_masks_matches_labels(face_data):
    faces = FacesInMemory(open_dataset(face_data, 32, include=open_dataset(face_data, 32).ids[:1]),
                          progress=False)
    batch = faces.batch([0])
    assert torch.equal(one_hot(batch["mask"]).argmax(1), batch["mask"])


def test_auto_precision_picks_bf16_only_on_cpus_with_native_bf16(tmp_path):
    # Plain AVX-512 CPUs make oneDNN report bf16 support, but emulate it at half fp32's speed.
    cpu = torch.device("cpu")
    assert not bf16_is_fast(cpu, frozenset({"avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"}))
    assert bf16_is_fast(cpu, frozenset({"avx2", "avx512f", "avx512_bf16"})) == torch.backends.mkldnn.is_available()
    assert bf16_is_fast(cpu, frozenset({"amx_bf16"})) == torch.backends.mkldnn.is_available()
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "avx512f"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
