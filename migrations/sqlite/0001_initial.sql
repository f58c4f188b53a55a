-- The event log: the source of truth. One row per event, in global order.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,   -- global log position, gap-free
    recorded_at INTEGER NOT NULL,      -- ms since the Unix epoch
    project     TEXT    NOT NULL,
    queue       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,      -- serde tag of the event
    version     INTEGER NOT NULL,      -- payload schema version
    client_id   TEXT,
    request_id  TEXT,
    payload     TEXT    NOT NULL       -- the event as JSON
);
CREATE INDEX events_by_queue ON events (project, queue, seq);

-- Which log position the inline projections below reflect.
CREATE TABLE projection_checkpoints (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
) WITHOUT ROWID;

-- Read model: queues.
CREATE TABLE queues (
    project     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    metadata    TEXT    NOT NULL,      -- JSON object, as stored (no defaults)
    created_at  INTEGER NOT NULL,
    next_marker INTEGER NOT NULL,      -- marker of the next posted message
    PRIMARY KEY (project, name)
) WITHOUT ROWID;

-- Read model: messages, with their claim state.
CREATE TABLE messages (
    project       TEXT    NOT NULL,
    queue         TEXT    NOT NULL,
    marker        INTEGER NOT NULL,    -- per-queue posting order
    id            TEXT    NOT NULL,
    body          TEXT    NOT NULL,    -- JSON
    ttl           INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    delay_until   INTEGER NOT NULL,
    client_id     TEXT    NOT NULL,
    checksum      TEXT,
    claim_id      TEXT,
    claim_expires INTEGER,
    claim_count   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project, queue, marker)
);
CREATE UNIQUE INDEX messages_by_id ON messages (id);
CREATE INDEX messages_by_expiry ON messages (expires_at);
CREATE INDEX messages_by_claim ON messages (claim_id) WHERE claim_id IS NOT NULL;

-- Read model: claims.
CREATE TABLE claims (
    id         TEXT    PRIMARY KEY,
    project    TEXT    NOT NULL,
    queue      TEXT    NOT NULL,
    ttl        INTEGER NOT NULL,
    grace      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,       -- creation or last renewal
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX claims_by_expiry ON claims (expires_at);
CREATE INDEX claims_by_queue ON claims (project, queue);
