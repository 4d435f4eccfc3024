"""The photo pipeline: an edit of a face made to look like a photograph, in the photo it came from.

Everything between the networks' raw output and the picture a user saves lives here: the
source photo and where its face is (``source``), the regions an edit changes (``regions``),
colour (``colour``), the part's alpha matte against the background (``matte``), detail and
invented pixels (``detail``, ``texture``, ``inpaint``), and putting the result back into the
photo (``paste``). The engine (``model/inference``) returns the network's output only and
never imports this package.
"""
