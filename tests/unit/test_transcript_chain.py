"""Transcript chains (db/transcripts.py, ADR 0012): a list that extends another shares its
nodes, a list is named by its last node, and markers are recognised only as markers."""

from __future__ import annotations

from db import transcripts


def test_a_list_that_extends_another_shares_its_nodes() -> None:
    short = transcripts.chain([b"a", b"b"], "msgpack")
    longer = transcripts.chain([b"a", b"b", b"c"], "msgpack")
    assert longer[:2] == short
    assert [n.position for n in longer] == [0, 1, 2]
    assert longer[0].parent is None and longer[2].parent == longer[1].digest


def test_the_head_names_the_whole_list_and_its_encoding() -> None:
    head = transcripts.chain([b"a", b"b"], "msgpack")[-1].digest
    assert transcripts.chain([b"b", b"a"], "msgpack")[-1].digest != head
    assert transcripts.chain([b"a", b"b"], "json-message")[-1].digest != head
    assert transcripts.chain([b"b"], "msgpack")[-1].digest != head  # a suffix is another list


def test_markers_round_trip_and_nothing_else_is_one() -> None:
    node = transcripts.text_node("x" * 300)
    assert transcripts.marked(transcripts.mark(node)) == node.digest
    assert transcripts.marked("x" * 300) is None
    assert transcripts.marked(transcripts.MARK + "zz" * 32) is None
    assert transcripts.marked(None) is None


def test_long_texts_and_marker_lookalikes_are_interned() -> None:
    assert transcripts.interned("x" * transcripts.INTERN_MIN)
    assert not transcripts.interned("x" * (transcripts.INTERN_MIN - 1))
    assert transcripts.interned(transcripts.MARK + "short")
    assert not transcripts.interned(["a", "list", "of", "parts"])
