"""Inference: the editing ``engine``, its ``backends`` (PyTorch or ONNX Runtime behind one
protocol), the ONNX export (``onnx_export``) and the latency benchmark (``bench``)."""
