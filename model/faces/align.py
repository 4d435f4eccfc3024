"""Face finding and alignment: any portrait photo → a square crop in CelebA-HQ framing.

dlib finds the faces of a photo (the main one is the largest) and their 68 landmarks,
offline: the frontal (HOG)
detector is built into dlib (`dlib-bin`); when it finds nothing (a cap, a hand over the
face, a strongly tilted head) dlib's CNN detector (`mmod_human_face_detector.dat`) looks
again, slower but more tolerant. The landmark predictor and the CNN detector ship in the
`face-recognition-models` wheel. Landmarks of a tilted face are found again on an upright
copy, where the predictor is most accurate.

The crop is the one CelebA-HQ was made with (Karras et al. 2018, appendix C; FFHQ uses the
same rule): an oriented square from the eye centres and mouth corners,

    x = (e1 - e0) - rot90(m - e),  |x| = max(2 |e1 - e0|, 1.8 |m - e|),  centre e + 0.1 (m - e)

(e0, e1 the eye centres, e their mean, m the mouth-corner mean), the square having side 2|x|.
dlib's landmarks sit slightly differently from CelebA's, so the side is scaled by
``CELEBAHQ_SCALE``, measured on celebamask-mini (`benchmarks/check_alignment.py`): an aligned
CelebA-HQ crop then maps (nearly) onto itself. The transform is kept, so a result can be
pasted back into the photo.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import CA2SISError, DataError
from ..io.decode import decode_file, to_rgb
from ..io.images import ImageInput, describe

# dlib's 68-point scheme: 36-41 and 42-47 are the eyes (image left first), 48 and 54 the
# mouth corners.
RIGHT_EYE, LEFT_EYE, MOUTH_CORNERS = slice(36, 42), slice(42, 48), (48, 54)
# How much larger CelebA-HQ's own crops are than the square the rule gives on dlib's
# landmarks: the median over the 800 training faces of celebamask-mini
# (benchmarks/check_alignment.py).
CELEBAHQ_SCALE = 1.008
# The CNN detector costs seconds on a CPU: it looks at a copy at most this wide (it finds
# faces down to about 40 px there).
CNN_SIDE = 640
# Landmarks of a face tilted more than this are predicted again on an upright copy.
UPRIGHT_DEGREES = 10.0
# Tilts (degrees) at which a face only the CNN detector found is looked for again upright.
TILTS = (45.0, -45.0, 90.0, -90.0)


# The detectors find faces of about 40 px and larger; dlib fails (and corrupts its memory) on
# pictures under about 10 px a side, so nothing smaller than this reaches it.
MIN_PHOTO_SIDE = 32


class NoFaceFound(DataError):
    """No face in the picture (the studio then offers to take a square picture whole)."""


def dlib_models_folder() -> Path:
    """The folder of dlib's model files shipped by face-recognition-models."""
    # face_recognition_models' __init__ imports pkg_resources (gone from new setuptools):
    # find its folder without importing it.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CA2SISError("face alignment needs the face-recognition-models package (pip install it)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def celebahq_matrix(landmarks: np.ndarray, size: int, scale: float = CELEBAHQ_SCALE) -> np.ndarray:
    """2x3 affine map from photo pixels to a size x size crop in CelebA-HQ framing."""
    import cv2  # imported where used: the engine imports this module without aligning

    eye_0, eye_1 = landmarks[RIGHT_EYE].mean(axis=0), landmarks[LEFT_EYE].mean(axis=0)
    mouth = landmarks[list(MOUTH_CORNERS)].mean(axis=0)
    eyes = (eye_0 + eye_1) / 2
    eye_to_eye, eye_to_mouth = eye_1 - eye_0, mouth - eyes

    def rot90(v: np.ndarray) -> np.ndarray:
        return np.array([-v[1], v[0]])

    x = eye_to_eye - rot90(eye_to_mouth)
    x *= max(2.0 * np.hypot(*eye_to_eye), 1.8 * np.hypot(*eye_to_mouth)) * scale / np.hypot(*x)
    y = rot90(x)
    centre = eyes + 0.1 * eye_to_mouth
    # Corners top-left, bottom-left, top-right of the square → of the crop.
    source = np.float32([centre - x - y, centre - x + y, centre + x - y])
    target = np.float32([[0, 0], [0, size], [size, 0]])
    return cv2.getAffineTransform(source, target).astype(np.float64)


@dataclass
class AlignedFace:
    """A face cut out of a photo, and how to put it back.

    image: uint8 (size, size, 3), CelebA-HQ framing.
    matrix: 2x3 affine map from photo pixel coordinates to aligned pixel coordinates.
    photo_size: (width, height) of the photo.
    landmarks: the 68 landmarks found in the photo, (68, 2) photo pixels.
    """

    image: np.ndarray
    matrix: np.ndarray
    photo_size: tuple[int, int]
    landmarks: np.ndarray
    box: tuple[int, int, int, int] | None = None  # the detector's box (left, top, right, bottom), photo pixels

    def paste_back(self, photo: np.ndarray, face: np.ndarray, feather: float = 0.06) -> np.ndarray:
        """``face`` (any square size, same framing) warped back into ``photo`` with soft edges."""
        import cv2

        side = self.image.shape[0]
        if face.shape[:2] != (side, side):
            face = cv2.resize(face, (side, side), interpolation=cv2.INTER_LANCZOS4)
        width, height = self.photo_size
        inverse = cv2.invertAffineTransform(self.matrix)
        warped = cv2.warpAffine(face, inverse, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        # Weight 1 inside the crop, fading to 0 over its outer ``feather`` fraction.
        ramp = np.minimum(np.arange(side), np.arange(side)[::-1]) / max(feather * side, 1.0)
        weight = np.clip(np.minimum.outer(ramp, ramp), 0.0, 1.0).astype(np.float32)
        alpha = cv2.warpAffine(weight, inverse, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0)[..., None]
        blended = photo.astype(np.float32) * (1 - alpha) + warped.astype(np.float32) * alpha
        return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


class FaceAligner:
    """Finds the largest face of a photo and crops it in CelebA-HQ framing."""

    def __init__(self) -> None:
        try:
            import dlib  # a second to load: only when a photo is aligned
        except ImportError as exc:
            raise CA2SISError("face alignment needs dlib (pip install dlib-bin)") from exc
        predictor_path = dlib_models_folder() / "shape_predictor_68_face_landmarks.dat"
        if not predictor_path.is_file():
            raise CA2SISError(f"dlib's landmark model is missing: {predictor_path}")
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(predictor_path))
        self._cnn_detector = None  # loaded when first needed
        self.last_detector = ""  # "hog" or "cnn": which detector found the last face

    @property
    def cnn_detector(self):
        if self._cnn_detector is None:
            import dlib

            path = dlib_models_folder() / "mmod_human_face_detector.dat"
            if not path.is_file():
                raise CA2SISError(f"dlib's CNN face detector is missing: {path}")
            self._cnn_detector = dlib.cnn_face_detection_model_v1(str(path))
        return self._cnn_detector

    def detect(self, photo: np.ndarray) -> list:
        """Face boxes (dlib rectangles) in photo pixels of an RGB uint8 image: the frontal
        detector's, else the CNN detector's."""
        import dlib

        height, width = photo.shape[:2]
        if min(height, width) < MIN_PHOTO_SIDE:  # dlib fails on such pictures, and corrupts its memory
            return []
        boxes = list(self.detector(photo, 0)) or list(self.detector(photo, 1))
        if boxes:
            self.last_detector = "hog"
            return boxes
        scale = min(1.0, CNN_SIDE / max(height, width))
        small = photo if scale == 1.0 else _resize(photo, scale)
        if min(small.shape[:2]) < MIN_PHOTO_SIDE:
            return []
        found = [detection.rect for detection in self.cnn_detector(small, 0)]
        self.last_detector = "cnn" if found else ""
        return [dlib.rectangle(round(b.left() / scale), round(b.top() / scale), round(b.right() / scale),
                               round(b.bottom() / scale)) for b in found]

    def _predict(self, photo: np.ndarray, box) -> np.ndarray:
        return np.array([[p.x, p.y] for p in self.predictor(photo, box).parts()], dtype=np.float64)

    def _turned_landmarks(self, photo: np.ndarray, box, degrees: float) -> np.ndarray | None:
        """Landmarks of the face in ``box`` found by the frontal detector on a copy turned by
        ``degrees`` around the box (None when it finds no face there), in photo pixels."""
        import cv2

        centre = ((box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2)
        turn = cv2.getRotationMatrix2D(centre, degrees, 1.0)
        turned = cv2.warpAffine(photo, turn, (photo.shape[1], photo.shape[0]), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
        found = [b for b in self.detector(turned, 1)
                 if b.left() <= centre[0] <= b.right() and b.top() <= centre[1] <= b.bottom()]
        if not found:
            return None
        points = self._predict(turned, max(found, key=lambda b: b.width() * b.height()))
        back = cv2.invertAffineTransform(turn)
        return points @ back[:, :2].T + back[:, 2]

    def _upright_landmarks(self, photo: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The predictor starts from an upright mean face: on a tilted face, predict again
        on a copy turned upright around the face, and map the points back."""
        import cv2
        import dlib

        for _ in range(2):  # a second turn corrects what a far-off first estimate missed
            eye_line = points[LEFT_EYE].mean(axis=0) - points[RIGHT_EYE].mean(axis=0)
            degrees = float(np.degrees(np.arctan2(eye_line[1], eye_line[0])))
            if abs(degrees) < UPRIGHT_DEGREES:
                break
            centre = points.mean(axis=0)
            turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), degrees, 1.0)
            upright = cv2.warpAffine(photo, turn, (photo.shape[1], photo.shape[0]), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT)
            half = float(np.ptp(points, axis=0).max()) * 0.6
            box = dlib.rectangle(round(centre[0] - half), round(centre[1] - half),
                                 round(centre[0] + half), round(centre[1] + half))
            found = self._predict(upright, box)
            back = cv2.invertAffineTransform(turn)
            points = found @ back[:, :2].T + back[:, 2]
        return points

    def _boxes(self, photo: np.ndarray, source: str) -> tuple[np.ndarray, float, list]:
        """(the copy detected on, its scale, the face boxes found on it, duplicates dropped)."""
        height, width = photo.shape[:2]
        if min(height, width) < MIN_PHOTO_SIDE:
            raise NoFaceFound(f"{source}: {width}x{height} pixels is too small to find a face in (a photo needs "
                              f"at least {MIN_PHOTO_SIDE} pixels a side)")
        # Detect on a copy at most 1024 px wide (fast); the detector finds faces down to
        # about 80 px, and looks again at twice the size when it finds none.
        scale = min(1.0, 1024 / max(height, width))
        small = photo if scale == 1.0 else _resize(photo, scale)
        boxes = _distinct(self.detect(small))
        if not boxes:
            raise NoFaceFound(f"{source}: no face found in the picture")
        return small, scale, boxes

    def _points(self, small: np.ndarray, box) -> np.ndarray:
        """The 68 landmarks of the face in ``box`` of the detection copy ``small``."""
        points = None
        if self.last_detector == "cnn":
            # The CNN box says where, not how the head is tilted, and the predictor starts
            # upright: find the tilt at which the frontal detector sees the face.
            for degrees in TILTS:
                points = self._turned_landmarks(small, box, degrees)
                if points is not None:
                    break
        if points is None:
            points = self._predict(small, box)
        return self._upright_landmarks(small, points)

    def landmarks(self, photo: np.ndarray, source: str = "photo") -> np.ndarray:
        """The 68 landmarks (68, 2) of the largest face in an RGB uint8 photo."""
        small, scale, boxes = self._boxes(photo, source)
        box = max(boxes, key=lambda b: b.width() * b.height())
        return self._points(small, box) / scale

    def find_faces(self, photo: np.ndarray, source: str = "photo") -> list[FoundFace]:
        """Every face of an RGB uint8 photo, numbered left to right (by the centre of its box):
        its box and 68 landmarks in photo pixels. A face the detector reports twice is kept once."""
        small, scale, boxes = self._boxes(photo, source)
        faces = []
        for box in boxes:
            corners = (box.left() / scale, box.top() / scale, box.right() / scale, box.bottom() / scale)
            faces.append(FoundFace(tuple(round(value) for value in corners), self._points(small, box) / scale))
        return sorted(faces, key=lambda face: (face.box[0] + face.box[2], face.box[1]))

    def align(self, photo: ImageInput, size: int = 512) -> AlignedFace:
        """The main face of ``photo`` (path, PIL image or array), aligned at size x size."""
        rgb = _load_photo(photo)
        return _aligned(rgb, self.landmarks(rgb, describe(photo)), size)

    def align_all(self, photo: ImageInput, size: int = 512) -> list[AlignedFace]:
        """Every face of ``photo``, left to right, each aligned at size x size (with its box)."""
        rgb = _load_photo(photo)
        return [_aligned(rgb, face.landmarks, size, face.box) for face in self.find_faces(rgb, describe(photo))]


@dataclass(frozen=True)
class FoundFace:
    """A face the detector found: its box (left, top, right, bottom) and landmarks (68, 2), photo pixels."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray


# Two boxes sharing more than this share of their union are one face found twice.
DUPLICATE_IOU = 0.5


def box_overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The area two (left, top, right, bottom) boxes share, over the smaller one's area (0..1)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(width * height / max(smaller, 1e-6))


def _distinct(boxes: list) -> list:
    """dlib boxes with a face found twice (boxes sharing most of their union) kept once, the larger."""
    kept: list = []
    for box in sorted(boxes, key=lambda b: -b.area()):
        if all(box.intersect(other).area() / max(box.area() + other.area() - box.intersect(other).area(), 1)
               <= DUPLICATE_IOU for other in kept):
            kept.append(box)
    return kept


def _aligned(rgb: np.ndarray, points: np.ndarray, size: int,
             box: tuple[int, int, int, int] | None = None) -> AlignedFace:
    """The face with landmarks ``points`` cut out of ``rgb`` in CelebA-HQ framing at size x size."""
    import cv2

    matrix = celebahq_matrix(points, size)
    source, source_matrix = rgb, matrix
    zoom = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if zoom < 0.5:  # a big face shrunk a lot: area-resize first, or the warp would alias
        source = _resize(rgb, 2 * zoom)
        source_matrix = matrix.copy()
        source_matrix[:, 0] *= rgb.shape[1] / source.shape[1]  # the exact factors after rounding
        source_matrix[:, 1] *= rgb.shape[0] / source.shape[0]
    aligned = cv2.warpAffine(source, source_matrix, (size, size), flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REFLECT)
    return AlignedFace(aligned, matrix, (rgb.shape[1], rgb.shape[0]), points, box)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)


def load_photo(photo: ImageInput) -> np.ndarray:
    """Any accepted image input → uint8 RGB at its own size, EXIF orientation applied."""
    return _load_photo(photo)


def _load_photo(photo: ImageInput) -> np.ndarray:
    """Any accepted image input → uint8 RGB at its own size (photos need not be square)."""
    source = describe(photo)
    if isinstance(photo, (str, Path)):
        return decode_file(Path(photo), lambda image: np.array(to_rgb(ImageOps.exif_transpose(image))))
    if isinstance(photo, Image.Image):
        return np.array(to_rgb(ImageOps.exif_transpose(photo)))
    if isinstance(photo, np.ndarray):
        if photo.ndim == 3 and photo.shape[-1] == 3 and photo.dtype == np.uint8:
            return np.ascontiguousarray(photo)
        raise DataError(f"{source}: photos as arrays must be uint8 (H, W, 3)")
    raise TypeError(f"a photo must be a file path, a PIL image or a numpy array, not {type(photo).__name__}")
