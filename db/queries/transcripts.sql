-- Message lists stored once (ADR 0012): each element of a list is a node of a chain keyed by
-- (tenant, digest), the digest covering its parent's digest, its encoding and its bytes, so a
-- list that extends a stored one adds only its new elements. The tenant is always the task's,
-- read from its row: a digest resolves only within the tenant that wrote it.

-- name: transcripts_insert
-- Store the nodes of a message list that are not stored yet (the writer sends only those it
-- does not know to be stored; one stored meanwhile, by a fork sharing the prefix, keeps its
-- bytes: same key, same bytes). A node is owned by the task that stored it first, and pruned
-- with it; one that another task stores too becomes shared (owner NULL) and stays (ADR 0023);
-- one already shared is left as it is (no new row version). Queued by the fenced checkpointer
-- in the transaction that writes the checkpoint referring to them, before its fence, so they
-- commit with it or not at all.
-- fence: its transaction's lease_fence or lease_fence_last (worker/checkpointer.py).
INSERT INTO transcript_messages (tenant, digest, parent, position, encoding, content, owner)
SELECT t.tenant, n.digest, n.parent, n.position, %(encoding)s, n.content, t.id
FROM tasks AS t
CROSS JOIN unnest(
    %(digests)s::bytea[], %(parents)s::bytea[], %(positions)s::integer[], %(contents)s::bytea[]
) AS n (digest, parent, position, content)
WHERE t.id = %(task_id)s
ON CONFLICT (tenant, digest) DO UPDATE SET owner = NULL
WHERE transcript_messages.owner <> excluded.owner;

-- name: transcripts_read
-- The elements of the lists ending at :heads, in the task's tenant: each chain walked from its
-- head back to its first element (one primary-key lookup per element), then ordered by list
-- and position. A head of another tenant answers no rows.
WITH RECURSIVE chain AS (
    SELECT h.head, m.tenant, m.parent, m.position, m.encoding, m.content
    FROM tasks AS t
    CROSS JOIN unnest(%(heads)s::bytea[]) AS h (head)
    JOIN transcript_messages AS m ON m.tenant = t.tenant AND m.digest = h.head
    WHERE t.id = %(task_id)s
    UNION ALL
    SELECT c.head, m.tenant, m.parent, m.position, m.encoding, m.content
    FROM chain AS c
    JOIN transcript_messages AS m ON m.tenant = c.tenant AND m.digest = c.parent
)
SELECT head, position, encoding, content
FROM chain
ORDER BY head, position;
