"""The model layer: one thin seam over the vendors' official SDKs (provider.py), normalised
JSON-ready messages (messages.py), retries and failover above the providers (retry.py,
failover.py), an offline provider for demos and tests, and prices (prices.py).

No database and no LangGraph here: the LLM-call journal and the agent graph wrap this layer.
Guide: docs/howto/agents-and-models.md.
"""

from __future__ import annotations

from outlast.models.discovery import available, chain, provider
from outlast.models.failover import Link, ModelChain, StreamDelta
from outlast.models.journal import Journal, JournalEntry, call_model
from outlast.models.messages import (
    AssistantMessage,
    Message,
    ModelRequest,
    ModelResponse,
    Params,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    Usage,
    UserMessage,
)
from outlast.models.prices import Cost, Price, PriceBook
from outlast.models.provider import ModelRef, Provider
from outlast.models.retry import RetryPolicy

__all__ = [
    "AssistantMessage",
    "Cost",
    "Journal",
    "JournalEntry",
    "Link",
    "Message",
    "ModelChain",
    "ModelRef",
    "ModelRequest",
    "ModelResponse",
    "Params",
    "Price",
    "PriceBook",
    "Provider",
    "RetryPolicy",
    "StreamDelta",
    "SystemMessage",
    "ToolCall",
    "ToolResultMessage",
    "ToolSpec",
    "Usage",
    "UserMessage",
    "available",
    "call_model",
    "chain",
    "provider",
]
