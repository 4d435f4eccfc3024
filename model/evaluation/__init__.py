"""The paper's metrics, one module per family, and the pipeline that measures a model.

- ``image_quality``: PSNR and SSIM;  ``swd``: sliced Wasserstein distance;
- the parser's segmentation scores are ``faces.segmentation`` (the parser's training uses them);
- ``identity``: dlib's face-recognition descriptors (FRS);  ``leakage``: style leakage;
- ``metrics``: one accumulator per metric, registered by name (``METRIC_REGISTRY``);
- ``pairing``: which faces swap which part;  ``pipeline``: ``evaluate`` itself;
- ``report``: the metrics' names and the markdown table.
"""
