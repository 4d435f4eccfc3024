"""From a portrait photo to an aligned face and its mask: alignment (``align``, dlib), the
face parser network (``parser``), both together (``reader``) and the parser's training
(``train_parser``)."""
