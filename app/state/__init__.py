"""The studio without Qt: the document and its undoable commands (``document``), painting
(``painting``), projects on disk (``project``), the demo gallery (``gallery``) and the
latest-only background runner (``runner``). All of it is tested without a screen."""
