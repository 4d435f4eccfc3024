"""From a portrait photo to an aligned face and its mask: alignment (``align``, dlib), the
face parser network (``parser``), both together (``reader``) and the parser's scores
(``segmentation``: confusion matrix, IoU, F1, pixel accuracy)."""
