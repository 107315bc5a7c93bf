"""The budgeted graph (one model call to `openai:gpt-test`) for the rate-limit figure, in a
module that loads the OpenAI SDK when the worker loads its graphs, as a deployment whose graphs
call models would want: the SDK's first import blocks a worker's event loop for seconds on a
busy machine, and calls that had already taken their turn from the bucket would then reach the
provider late, all at once (docs/howto/budgets-and-limits.md, "Provider rate limits")."""

from __future__ import annotations

import outlast.models.openai  # noqa: F401  (loaded at start, not at the first call)
from tests.support.budgeted import budgeted

__all__ = ["budgeted"]
