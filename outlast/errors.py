"""Outlast's errors, for users: raise `NonRetryable` from a node to fail the task without
further attempts; catch `OutlastError` to catch anything Outlast raises on purpose.

The tree is drawn and defined in db/errors.py (the bottom layer, so the queue can raise it
too); this module is where users import it from.
"""

from __future__ import annotations

from db.errors import (
    ApiError,
    BudgetPaused,
    Conflict,
    IdempotencyMismatch,
    LeaseLost,
    ModelConfigError,
    ModelError,
    ModelRejected,
    ModelUnavailable,
    NonRetryable,
    NotFound,
    OutlastError,
    RateLimited,
    RegistryError,
    TaskTimeout,
    ToolError,
    UnfinishedRun,
    UnpricedModel,
    UnstorableValue,
    UrlRefused,
    WebhookRefused,
    WebhookSignatureInvalid,
)

__all__ = [
    "ApiError",
    "BudgetPaused",
    "Conflict",
    "IdempotencyMismatch",
    "LeaseLost",
    "ModelConfigError",
    "ModelError",
    "ModelRejected",
    "ModelUnavailable",
    "NonRetryable",
    "NotFound",
    "OutlastError",
    "RateLimited",
    "RegistryError",
    "TaskTimeout",
    "ToolError",
    "UnfinishedRun",
    "UnpricedModel",
    "UnstorableValue",
    "UrlRefused",
    "WebhookRefused",
    "WebhookSignatureInvalid",
]
