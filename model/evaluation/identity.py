"""Identity kept by a reconstruction (the paper's FRS): dlib's face-recognition descriptors.

dlib and OpenCV are imported when an ``IdentityEmbedder`` is built and used: evaluating
without identity (``--no-identity``) never loads them.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import CA2SISError, WeightsError
from ..faces.align import dlib_models_folder

IDENTITY_DETECT_SIZE = 256  # dlib's HOG detector wants faces above ~80 px: detect on a copy this large
# Where dlib's HOG detector puts the face box in CelebA-HQ framing (median over 30
# celebamask-mini faces, fractions of the side: left, top, right, bottom); used when it
# finds no face, e.g. on a poor reconstruction.
IDENTITY_FALLBACK_BOX = (0.19, 0.305, 0.758, 0.891)
IDENTITY_SAME_PERSON = 0.6  # dlib's documented threshold: descriptors closer than this are one person


class IdentityEmbedder:
    """dlib's face-recognition ResNet: an aligned face → a 128-d identity descriptor.

    The face is found by dlib's HOG detector on a copy upscaled to at least
    ``IDENTITY_DETECT_SIZE`` px; when none is found (a poor generation), the box where the
    detector puts faces in CelebA-HQ framing is used instead and ``embed`` says so.
    """

    def __init__(self) -> None:
        try:
            import dlib  # loaded only when identity is measured (a second of start-up)
        except ImportError as exc:
            raise CA2SISError("the identity metric needs dlib (pip install dlib-bin), or pass --no-identity") from exc
        folder = dlib_models_folder()
        recognition = folder / "dlib_face_recognition_resnet_model_v1.dat"
        landmarks = folder / "shape_predictor_5_face_landmarks.dat"
        for path in (recognition, landmarks):
            if not path.is_file():
                raise WeightsError(f"dlib model missing: {path} (reinstall face-recognition-models, or --no-identity)")
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(landmarks))
        self.network = dlib.face_recognition_model_v1(str(recognition))

    def embed(self, image: np.ndarray) -> tuple[np.ndarray, bool]:
        """uint8 (S, S, 3) face → (128-d descriptor, whether the fallback box was used)."""
        import cv2  # as in faces.align: only when a face is embedded

        side = image.shape[0]
        factor = max(1, math.ceil(IDENTITY_DETECT_SIZE / side))
        big = np.ascontiguousarray(image, dtype=np.uint8)
        if factor > 1:
            big = cv2.resize(big, (side * factor, side * factor), interpolation=cv2.INTER_CUBIC)
        boxes = list(self.detector(big, 0))
        fallback = not boxes
        if fallback:
            left, top, right, bottom = (round(f * big.shape[0]) for f in IDENTITY_FALLBACK_BOX)
            box = self._dlib.rectangle(left, top, right, bottom)
        else:
            box = max(boxes, key=lambda b: b.area())
        descriptor = self.network.compute_face_descriptor(big, self.predictor(big, box))
        return np.asarray(descriptor, dtype=np.float64), fallback


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
