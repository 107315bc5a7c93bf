"""LangChain messages in fewer bytes (ADR 0025), for the checkpointer's serializer.

LangGraph's serializer stores a message as a msgpack extension naming its module and class
(`langchain_core.messages.human`, `HumanMessage`) and every field, defaults too: 220 bytes for a
HumanMessage whose text is a 44-character marker, 270 for an AIMessage. A chat step stores its
two messages five times (the list nodes, the two pending writes, the graph's input on
`__start__`), so about half of a step's structure was these names and defaults.

Here a message of one of LangChain's own classes is stored as `{LEAN_KEY: [type, content, id,
fields]}` (`fields`: the others that differ from their defaults), about 110 bytes fewer, and the
value's type label is `LEAN_TYPE` instead of `msgpack`. A value is stored so only when reading it
back gives a value equal to it (checked at the write); otherwise, and for a value that holds a
dict with `LEAN_KEY` of its own (a user's), it is stored as the stock serializer stores it. Only
values labelled `LEAN_TYPE` are read as lean, so a user's dict is never taken for a message.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)

LEAN_TYPE = "outlast-lean"
STOCK_TYPE = "msgpack"
# A private-use character, as the text markers (db/transcripts.py): never a key by chance.
LEAN_KEY = "\ue001m"
CLASSES: dict[str, type[BaseMessage]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        AIMessage,
        ChatMessage,
        FunctionMessage,
        HumanMessage,
        RemoveMessage,
        SystemMessage,
        ToolMessage,
    )
}
_FIXED = {"type", "content", "id"}


def _lean(message: BaseMessage) -> dict[str, Any] | None:
    if CLASSES.get(message.type) is not type(message):
        return None
    fields = message.model_dump(exclude_defaults=True)
    extra = {k: v for k, v in fields.items() if k not in _FIXED}
    return {LEAN_KEY: [message.type, message.content, message.id, extra]}


def _message(lean: list[Any]) -> BaseMessage:
    kind, content, id_, extra = lean
    return CLASSES[kind](content=content, id=id_, **extra)


def _walk(value: Any, found: list[bool]) -> Any:
    """`value` with each message of CLASSES made lean; `found[0]` set when one was, `found[1]`
    when a dict of the value's own has LEAN_KEY (the value is then not stored lean)."""
    if isinstance(value, BaseMessage):
        lean = _lean(value)
        if lean is None:
            return value
        found[0] = True
        return lean
    if isinstance(value, list):
        return [_walk(v, found) for v in value]
    if isinstance(value, dict):
        if LEAN_KEY in value:
            found[1] = True
        return {k: _walk(v, found) for k, v in value.items()}
    return value


def _unwalk(value: Any) -> Any:
    if isinstance(value, list):
        return [_unwalk(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and LEAN_KEY in value:
            return _message(value[LEAN_KEY])
        return {k: _unwalk(v) for k, v in value.items()}
    return value


class LeanSerde:
    """A serializer (LangGraph's `dumps_typed`/`loads_typed`) storing messages lean, over the
    stock one, `inner`, which it defers to for everything else."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        found = [False, False]
        lean = _walk(obj, found)
        if found[0] and not found[1]:
            type_, data = self.inner.dumps_typed(lean)
            if type_ == STOCK_TYPE:
                try:
                    same = self.loads_typed((LEAN_TYPE, data)) == obj
                except Exception:  # any doubt: stored as the stock serializer stores it
                    same = False
                if same:
                    return LEAN_TYPE, data
        dumped: tuple[str, bytes] = self.inner.dumps_typed(obj)
        return dumped

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        type_, payload = data
        if type_ == LEAN_TYPE:
            return _unwalk(self.inner.loads_typed((STOCK_TYPE, payload)))
        return self.inner.loads_typed(data)
