"""The studio's Qt side: the window, the mask canvas, the side panels, the render worker
(Qt signals around ``state.runner``), numpy ↔ Qt images and the ``ca2sis`` entry point."""
