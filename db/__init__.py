"""The queue. Outlast's state lives in Postgres and every transition is a statement here."""
