"""What a user checks of the faster backends: the engine's default draws the faces PyTorch fp32
draws (within 0.5 dB), and the int8 G is used only where it is faster and passed that check."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ca2sis.model.inference.quality import MAX_PSNR_DROP_DB, FaceArrays, compare_to_reference, face_files, passes

from conftest import export_with_new_generator

pytest.importorskip("onnxruntime")
VNNI = frozenset({"avx512f", "avx512_vnni"})
NO_VNNI = frozenset({"avx512f"})


def torch_reference(folder):
    from ca2sis.model.inference.backends import TorchBackend
    from ca2sis.model.inference.engine import Engine
    from ca2sis.model.networks.composite import CA2SIS

    return Engine(backend=TorchBackend(CA2SIS.from_pretrained(folder), device="cpu"))


def test_the_engine_default_is_within_half_a_db_of_pytorch_fp32_on_real_faces(tiny_onnx_weights, face_data):
    from ca2sis.model.inference.engine import Engine

    reference = torch_reference(tiny_onnx_weights)
    default = Engine.from_pretrained(tiny_onnx_weights, device="cpu")
    assert default.description == "onnx CPU fp32"  # no int8 G exported: fp32 on any CPU
    faces = FaceArrays.load(reference, face_files(face_data, limit=4))
    row = compare_to_reference(reference, {"default": default}, faces)["default"]
    assert abs(row["psnr_drop_db"]) <= MAX_PSNR_DROP_DB
    assert row["part_edit_vs_reference_min_db"] > 60  # fp32 ONNX differs from PyTorch by float rounding only
    assert row["passes"]


def test_a_variant_far_from_pytorch_fails_the_check():
    row = {"psnr_drop_db": 0.1, "reconstruction_vs_reference_mean_db": 45.0, "part_edit_vs_reference_mean_db": 30.0}
    assert not passes(row)
    assert not passes({**row, "part_edit_vs_reference_mean_db": 45.0, "psnr_drop_db": 0.6})
    assert passes({**row, "part_edit_vs_reference_mean_db": 45.0})


@pytest.fixture
def int8_weights(tiny_export_run):
    """The tiny export with an int8 G, checked on two fixture faces (``ca2sis-export --int8``'s work).
    Shared by the session: tests copy it before changing anything."""
    return tiny_export_run[0]


def test_int8_g_has_the_fp32_inputs_and_outputs_and_records_its_check(int8_weights):
    import onnx
    import onnxruntime

    from ca2sis.model.inference.backends import INT8_GENERATOR_FILE, int8_check

    fp32 = onnxruntime.InferenceSession(str(int8_weights / "generator.onnx"))
    int8 = onnxruntime.InferenceSession(str(int8_weights / INT8_GENERATOR_FILE))
    assert [i.name for i in int8.get_inputs()] == [i.name for i in fp32.get_inputs()]
    assert [o.name for o in int8.get_outputs()] == [o.name for o in fp32.get_outputs()]
    operators = {node.op_type for node in onnx.load(str(int8_weights / INT8_GENERATOR_FILE)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Softmax"} <= operators  # quantised, softmax left in fp32
    check = int8_check(int8)
    assert check is not None and check["faces"] == 2 and check["passes"] == passes(check)


def backend(folder, precision="auto", flags=NO_VNNI):
    from ca2sis.model.config import get_config
    from ca2sis.model.inference.backends import OnnxBackend

    return OnnxBackend(folder, get_config(folder), device="cpu", precision=precision, flags=flags)


def with_check(folder, tmp_path, passed: bool):
    from ca2sis.model.inference.backends import INT8_GENERATOR_FILE
    from ca2sis.model.inference.quantize import record_check

    copy = tmp_path / ("passed" if passed else "failed")
    shutil.copytree(folder, copy)
    record_check(copy / INT8_GENERATOR_FILE, {"passes": passed})
    return copy


def test_int8_is_the_default_only_with_vnni_and_a_passed_check(int8_weights, tmp_path):
    passed, failed = with_check(int8_weights, tmp_path, True), with_check(int8_weights, tmp_path, False)
    # This CPU has no VNNI: fp32 whatever the check said, and previews run that same G.
    for folder in (passed, failed):
        plain = backend(folder, flags=NO_VNNI)
        assert plain.description == "onnx CPU fp32" and plain.preview_description is None
    # With VNNI: the int8 G when it passed ...
    fast = backend(passed, flags=frozenset({"avx2", "avx_vnni"}))
    assert fast.description == "onnx CPU int8" and fast.preview_description is None
    # ... and, when it failed, fp32 for what is kept, int8 only for previews while dragging.
    careful = backend(failed, flags=VNNI)
    assert careful.description == "onnx CPU fp32" and careful.preview_description == "onnx CPU int8"
    # Asked for by name, it runs on any CPU (how it is measured here); fp32 by name never uses it.
    assert backend(failed, precision="int8").description == "onnx CPU int8"
    assert backend(passed, precision="fp32", flags=VNNI).description == "onnx CPU fp32"


def test_a_stale_or_broken_int8_graph_is_never_picked(int8_weights, tmp_path):
    import onnx

    from ca2sis.model.errors import WeightsError
    from ca2sis.model.inference.backends import INT8_GENERATOR_FILE, WEIGHTS_DIGEST_KEY

    stale = with_check(int8_weights, tmp_path, True)
    graph = onnx.load(str(stale / INT8_GENERATOR_FILE))
    for entry in graph.metadata_props:
        if entry.key == WEIGHTS_DIGEST_KEY:
            entry.value = "0" * 64  # quantised from other weights than those beside it
    onnx.save(graph, str(stale / INT8_GENERATOR_FILE))
    broken = tmp_path / "broken"
    shutil.copytree(stale, broken)
    (broken / INT8_GENERATOR_FILE).write_bytes(b"not a graph")
    for folder in (stale, broken):
        assert backend(folder, flags=VNNI).description == "onnx CPU fp32"
        with pytest.raises(WeightsError):
            backend(folder, precision="int8")


def test_a_preview_renders_with_the_cheaper_g_and_says_which(int8_weights, tmp_path, face_data):
    from ca2sis.model.inference.edits import Edit, Reference
    from ca2sis.model.inference.engine import Engine

    engine = Engine(backend=backend(with_check(int8_weights, tmp_path, False), flags=VNNI))
    faces = face_files(face_data, limit=1)
    edit = Edit(faces[0].mask, Reference(faces[0].image, faces[0].mask))
    full, preview = engine.render(edit), engine.render(edit, preview=True)
    assert full.drawn_by == "onnx CPU fp32" and preview.drawn_by == "onnx CPU int8"
    assert not np.array_equal(full.image, preview.image)


def test_export_int8_of_weights_with_a_mask_bias_keeps_the_layout_input(tiny_onnx_weights, tiny_config, face_data,
                                                                         tmp_path):
    import onnxruntime

    from ca2sis.model.inference.backends import INT8_GENERATOR_FILE, int8_check
    from ca2sis.model.inference.quantize import export_int8

    # The tiny export with a mask-bias G; only G is exported again, the other graphs are the shared ones.
    bias = tiny_config.replace(attention_mask_bias=2.0)
    folder = export_with_new_generator(tiny_onnx_weights, tmp_path / "bias", bias)
    assert export_int8(folder, face_data, check_limit=1)["faces"] == 1
    int8 = onnxruntime.InferenceSession(str(folder / INT8_GENERATOR_FILE))
    assert [i.name for i in int8.get_inputs()] == ["latents", "codes", "layout"]
    assert int8_check(int8)["faces"] == 1
    # The fp32 graphs beside it take the layout too, and draw what PyTorch draws with it.
    from ca2sis.model.inference.engine import Engine
    from ca2sis.model.inference.onnx_export import check_parity

    differences = check_parity(folder)
    assert max(differences.values()) < 1e-3, differences
    image = sorted((face_data / "images").iterdir())[0]
    mask = face_data / "masks" / (image.stem + ".png")
    onnx_face = Engine.from_pretrained(folder, backend="onnx").reconstruct(image, mask).astype(int)
    torch_face = Engine.from_pretrained(folder, backend="torch").reconstruct(image, mask).astype(int)
    assert np.abs(onnx_face - torch_face).max() <= 2
