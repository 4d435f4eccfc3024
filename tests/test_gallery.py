"""The session's gallery (``app/state/gallery.py``): the demo faces, then the references read
from files, each kept once, under a name of its own, with the window told of each."""

from __future__ import annotations

from ca2sis.app.state.document import Face
from ca2sis.app.state.gallery import Gallery, gallery_entries


def test_the_gallery_keeps_each_reference_read_from_a_file_once_under_a_name_of_its_own():
    demo = gallery_entries()
    gallery = Gallery(demo)
    added = []
    gallery.subscribe(added.append)
    first, second = demo[0].load(), demo[1].load()
    read = Face(first.name, first.image, first.mask, "/photos/face-01.jpg")  # a file named as a demo face
    entry = gallery.keep(read)
    assert entry.name == "face-01 (2)" and gallery[entry.name].load() is read and added == [entry]
    assert gallery.keep(Face(first.name, first.image, first.mask, "/elsewhere/copy.jpg")) is entry  # the same face
    other = gallery.keep(Face("friend", second.image, second.mask, "/photos/friend.jpg"))
    assert list(gallery)[-2:] == ["face-01 (2)", "friend"] and len(gallery) == len(demo) + 2
    assert added == [entry, other] and str(other.image) == "/photos/friend.jpg"
    assert gallery["face-01"].load().key == first.key  # the demo face is still there, read from its files
