-- Each message body is stored once, in the log: a message row points at the event that
-- posted it (`post_seq`) and at its place in that event's list (`post_index`), and keeps
-- `body` NULL. Retention copies a body into its row (and clears the pointer) before it
-- prunes the event. Rows written before this layout are converted at the end.
CREATE TABLE messages_new (
    project       TEXT    NOT NULL,
    queue         TEXT    NOT NULL,
    marker        INTEGER NOT NULL,    -- per-queue posting order
    id            TEXT    NOT NULL,
    body          TEXT,                -- JSON; NULL while the posting event holds it
    ttl           INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    delay_until   INTEGER NOT NULL,
    client_id     TEXT    NOT NULL,
    checksum      TEXT,
    claim_id      TEXT,
    claim_expires INTEGER,
    claim_count   INTEGER NOT NULL DEFAULT 0,
    post_seq      INTEGER,             -- the posting event, while `body` is NULL
    post_index    INTEGER,             -- the message's index in that event's list
    PRIMARY KEY (project, queue, marker),
    CHECK (body IS NOT NULL OR (post_seq IS NOT NULL AND post_index IS NOT NULL))
);
INSERT INTO messages_new (project, queue, marker, id, body, ttl, created_at, expires_at,
                          delay_until, client_id, checksum, claim_id, claim_expires,
                          claim_count)
    SELECT project, queue, marker, id, body, ttl, created_at, expires_at, delay_until,
           client_id, checksum, claim_id, claim_expires, claim_count
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE UNIQUE INDEX messages_by_id ON messages (id);
CREATE INDEX messages_by_expiry ON messages (expires_at);
CREATE INDEX messages_by_claim ON messages (claim_id) WHERE claim_id IS NOT NULL;

-- Rows written before this layout point at their posting event too, so that they match
-- what a replay of the log folds: the first event of a message's history posted it. Rows
-- posted at or before the snapshot position keep their bodies, as a replay restores them
-- from the snapshot; so do rows whose posting event is no longer in the log.
UPDATE messages SET body = NULL, post_seq = posted.seq, post_index = posted.idx
FROM (
    SELECT h.message_id AS id, e.seq AS seq, CAST(j.key AS INTEGER) AS idx
    FROM message_history AS h
    JOIN events AS e
      ON e.seq = CAST(substr(h.seqs, 1, instr(h.seqs || ',', ',') - 1) AS INTEGER)
     AND e.kind = 'MessagesPosted'
    JOIN json_each(e.payload, '$.messages') AS j ON j.value ->> '$.id' = h.message_id
    WHERE e.seq > COALESCE((SELECT value FROM log_meta WHERE key = 'snapshot'), 0)
) AS posted
WHERE messages.id = posted.id;
