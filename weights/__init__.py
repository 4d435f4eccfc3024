"""The bundled weights (package data of ca2sis): ``lite/`` for CA2-SIS, ``parser/`` for the
face parser. Found through ``ca2sis.model.io.bundled``, so an installed copy finds them too."""
