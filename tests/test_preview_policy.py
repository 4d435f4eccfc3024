"""The studio's preview policy (``app.state.preview``): cheap frames while dragging, the full
render when the pointer stops, and the status bar saying which one is shown."""

from __future__ import annotations

from types import SimpleNamespace

from ca2sis.app.state.preview import PreviewPolicy


def policy(preview_description: str | None) -> tuple[PreviewPolicy, SimpleNamespace]:
    engine = SimpleNamespace(description="onnx CPU fp32", preview_description=preview_description, image_size=128)
    studio = SimpleNamespace(stroke_active=False)
    return PreviewPolicy(engine, studio), studio


def test_a_stroke_renders_previews_with_the_cheaper_g_and_full_once_it_ends():
    preview_policy, studio = policy("onnx CPU int8")
    assert not preview_policy.next_render_is_preview()
    studio.stroke_active = True
    assert preview_policy.next_render_is_preview()
    assert preview_policy.label("onnx CPU int8", preview=True) == "preview: onnx CPU int8 128 px"
    studio.stroke_active = False  # the stroke's command then asks for a render: a full one
    assert not preview_policy.next_render_is_preview()
    assert preview_policy.label("onnx CPU fp32", preview=False) == "full: onnx CPU fp32 128 px"


def test_releasing_a_slider_asks_for_the_full_render_only_after_previews():
    preview_policy, _ = policy("onnx CPU int8")
    preview_policy.hold("strength")
    assert preview_policy.next_render_is_preview()
    preview_policy.hold("shape")
    assert not preview_policy.let_go("shape")  # the strength slider is still held
    assert preview_policy.let_go("strength")
    assert not preview_policy.next_render_is_preview()  # the full render the window then asks for
    preview_policy.hold("strength")
    assert not preview_policy.let_go("strength")  # pressed and released without a move: nothing to redo


def test_a_preview_arriving_after_the_stroke_ended_is_replaced_by_the_full_render():
    preview_policy, studio = policy("onnx CPU int8")
    studio.stroke_active = True
    assert preview_policy.replace_preview(shown_preview=True, newest=True) is False  # still painting
    studio.stroke_active = False
    assert preview_policy.replace_preview(shown_preview=True, newest=True)
    assert not preview_policy.replace_preview(shown_preview=True, newest=False)  # the stroke's full render is queued
    assert not preview_policy.replace_preview(shown_preview=False, newest=True)


def test_without_a_cheaper_g_frames_while_dragging_are_previews_of_the_full_g_and_the_finished_frame_follows():
    # A preview skips the finishing that takes long (a painted face's texture): the slider stays live.
    preview_policy, studio = policy(None)
    preview_policy.hold("strength")
    assert preview_policy.next_render_is_preview()
    assert preview_policy.label("onnx CPU fp32", preview=True) == (
        "preview: onnx CPU fp32 128 px (the full G: no cheaper one here)"
    )
    assert preview_policy.let_go("strength")  # released: the finished frame is asked for
    assert not preview_policy.next_render_is_preview()
    assert preview_policy.label("onnx CPU fp32", preview=False) == "full: onnx CPU fp32 128 px"
