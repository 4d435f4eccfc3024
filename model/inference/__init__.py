"""Inference: the editing ``engine``, its ``backends`` (PyTorch or ONNX Runtime behind one
protocol), attention overlays (``visualise``), the ONNX export (``onnx_export``) and the
latency benchmark (``bench``)."""
