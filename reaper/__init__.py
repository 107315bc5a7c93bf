"""The reaper process: takes back expired leases, enforces attempt timeouts, marks silent
workers. Safe to run several at once (every statement is batched with SKIP LOCKED)."""
