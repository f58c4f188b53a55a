-- Each message body is stored once, in the log: a message row points at the event that
-- posted it (`post_seq`) and at its place in that event's list (`post_index`), and keeps
-- `body` NULL. Retention copies a body into its row (and clears the pointer) before it
-- prunes the event. Rows written before this layout keep their bodies.
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
