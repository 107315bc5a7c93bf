"""The worker process: a claim loop owning concurrency slots, an executor per task, a heartbeat
guarding the leases, and fenced state writes (River's producer/executor/completer)."""
