"""Message lists stored once (db/queries/transcripts.sql, ADR 0012).

A list of N elements is a chain of N nodes: node i's digest is sha256 over node i-1's digest
(32 zero bytes for the first), the encoding, a NUL and element i's bytes. Equal prefixes have
equal chains, so storing a list that extends a stored one stores only its new elements, and a
list is named by one digest, its head's: a checkpoint or a journal row that carries a list
carries 32 bytes, whatever the list's length. The bytes are the caller's encoding of each
element (the checkpointer's msgpack, the journal's canonical JSON); this module never decodes
them.

Texts: a message's text of `INTERN_MIN` characters or more is stored once as a node of its own
(encoding `text`, no parent) and the message carries a marker in its place, `MARK` and the
node's digest in base64url. The same text in a checkpoint, a pending write, a journaled request or a
recorded response is the same node, so a conversation's texts are stored once per tenant
whatever shape carries them; only the small structure around them repeats."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db.connect import Db, fetch_all
from db.errors import NotFound
from db.sql import query

ROOT = bytes(32)
TEXT = "text"
# A private-use character: never in a text by chance, and storable in jsonb (NUL is not). A
# marker is MARK and the digest in unpadded base64url, 44 characters (ADR 0025); LEGACY_MARK
# and the digest in hex, 78, is what ADR 0012 wrote, still read.
MARK = "\ue000"
LEGACY_MARK = "\ue000outlast-text:"
INTERN_MIN = 256


@dataclass(frozen=True)
class Node:
    digest: bytes
    parent: bytes | None
    position: int
    content: bytes


def chain(contents: Sequence[bytes], encoding: str) -> list[Node]:
    """The nodes of a list whose elements are `contents` (each already encoded)."""
    nodes: list[Node] = []
    parent: bytes | None = None
    label = encoding.encode() + b"\0"
    for position, content in enumerate(contents):
        digest = hashlib.sha256((parent or ROOT) + label + content).digest()
        nodes.append(Node(digest, parent, position, content))
        parent = digest
    return nodes


def interned(text: object) -> bool:
    """Whether a message text is stored as a node of its own: a long one, or one that looks
    like a marker (so a user cannot pass a marker off as their text: it is stored, and read
    back, as the text it is)."""
    return isinstance(text, str) and (len(text) >= INTERN_MIN or text.startswith(MARK))


def text_node(text: str) -> Node:
    """The node that stores `text` once (a list of one element, encoding `text`)."""
    return chain([text.encode()], TEXT)[0]


def mark(node: Node) -> str:
    """The marker that stands for a text node in a message."""
    return MARK + _b64(node.digest)


def marked(value: object) -> bytes | None:
    """The digest a marker names (either form), or None for any other value."""
    if not isinstance(value, str) or not value.startswith(MARK):
        return None
    try:
        if len(value) == len(MARK) + 43:
            digest = base64.urlsafe_b64decode(value[len(MARK) :] + "=")
            return digest if MARK + _b64(digest) == value else None
        if value.startswith(LEGACY_MARK) and len(value) == len(LEGACY_MARK) + 64:
            return bytes.fromhex(value[len(LEGACY_MARK) :])
    except (ValueError, binascii.Error):
        return None
    return None


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def texts(db: Db, task_id: uuid.UUID, digests: Iterable[bytes]) -> dict[bytes, str]:
    """The texts the markers name, by digest, in the task's tenant (NotFound as `read`)."""
    lists = await read(db, task_id, digests)
    return {digest: elements[0].decode() for digest, (_, elements) in lists.items()}


def insert_params(task_id: uuid.UUID, nodes: Sequence[Node], encoding: str) -> dict[str, object]:
    return {
        "task_id": task_id,
        "encoding": encoding,
        "digests": [n.digest for n in nodes],
        "parents": [n.parent for n in nodes],
        "positions": [n.position for n in nodes],
        "contents": [n.content for n in nodes],
    }


async def insert(
    conn: AsyncConnection[DictRow], task_id: uuid.UUID, nodes: Sequence[Node], encoding: str
) -> None:
    """Store `nodes` under the task's tenant. Only inside the fenced write that refers to them
    (worker/checkpointer.py): in pipeline mode this queues the statement."""
    if nodes:
        await conn.execute(query("transcripts_insert"), insert_params(task_id, nodes, encoding))


async def read(
    db: Db, task_id: uuid.UUID, heads: Iterable[bytes]
) -> dict[bytes, tuple[str, list[bytes]]]:
    """Each head's list, as its encoding and the encoded elements in order, looked up in the
    task's tenant. Raises NotFound when a list is not all there (another tenant's head, or a
    node lost): the elements found are chained again and must end at the head."""
    wanted = set(heads)
    if not wanted:
        return {}
    rows = await fetch_all(db, "transcripts_read", {"task_id": task_id, "heads": list(wanted)})
    lists: dict[bytes, list[bytes]] = {head: [] for head in wanted}
    encodings: dict[bytes, str] = {}
    for row in rows:
        head = bytes(row["head"])
        lists[head].append(bytes(row["content"]))
        encodings[head] = row["encoding"]
    for head, elements in lists.items():
        nodes = chain(elements, encodings.get(head, ""))
        if not nodes or nodes[-1].digest != head:
            raise NotFound("transcript", head.hex())
    return {head: (encodings[head], elements) for head, elements in lists.items()}
