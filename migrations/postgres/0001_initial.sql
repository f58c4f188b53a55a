-- The PostgreSQL schema: the same tables as the SQLite store (see migrations/sqlite), in
-- one migration. Times are milliseconds since the Unix epoch.
-- Key columns use the "C" collation so that names and ids sort bytewise, as on SQLite.

-- The event log: the source of truth. One row per event, in global order. Positions are
-- assigned by writers holding the log lock (see src/events/store/postgres), so they are
-- gap-free and committed in order.
CREATE TABLE events (
    seq         BIGINT  PRIMARY KEY,
    recorded_at BIGINT  NOT NULL,
    project     TEXT COLLATE "C" NOT NULL,
    queue       TEXT COLLATE "C" NOT NULL,
    kind        TEXT    NOT NULL,      -- serde tag of the event
    version     BIGINT  NOT NULL,      -- payload schema version
    client_id   TEXT,
    request_id  TEXT,
    payload     TEXT    NOT NULL       -- the event as JSON
);
CREATE INDEX events_by_queue ON events (project, queue, seq);
CREATE INDEX events_by_project ON events (project, seq);

-- Which log position the inline projections reflect.
CREATE TABLE projection_checkpoints (
    name TEXT   PRIMARY KEY,
    seq  BIGINT NOT NULL
);

-- Facts about the log itself (`horizon`, `snapshot`), as in the SQLite store.
CREATE TABLE log_meta (
    key   TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);

-- Read model: queues.
CREATE TABLE queues (
    project     TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    metadata    TEXT    NOT NULL,      -- JSON object, as stored (no defaults)
    created_at  BIGINT  NOT NULL,
    next_marker BIGINT  NOT NULL,      -- marker of the next posted message
    PRIMARY KEY (project, name)
);

-- Read model: messages, with their claim state.
CREATE TABLE messages (
    project       TEXT COLLATE "C" NOT NULL,
    queue         TEXT COLLATE "C" NOT NULL,
    marker        BIGINT  NOT NULL,    -- per-queue posting order
    id            TEXT COLLATE "C" NOT NULL,
    body          TEXT    NOT NULL,    -- JSON
    ttl           BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    delay_until   BIGINT  NOT NULL,
    client_id     TEXT    NOT NULL,
    checksum      TEXT,
    claim_id      TEXT,
    claim_expires BIGINT,
    claim_count   BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (project, queue, marker)
);
CREATE UNIQUE INDEX messages_by_id ON messages (id);
CREATE INDEX messages_by_expiry ON messages (expires_at);
CREATE INDEX messages_by_claim ON messages (claim_id) WHERE claim_id IS NOT NULL;

-- Read model: claims.
CREATE TABLE claims (
    id         TEXT COLLATE "C" PRIMARY KEY,
    project    TEXT COLLATE "C" NOT NULL,
    queue      TEXT COLLATE "C" NOT NULL,
    ttl        BIGINT  NOT NULL,
    grace      BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,       -- creation or last renewal
    expires_at BIGINT  NOT NULL
);
CREATE INDEX claims_by_expiry ON claims (expires_at);
CREATE INDEX claims_by_queue ON claims (project, queue);

-- Read model: subscriptions (notification targets of a queue).
CREATE TABLE subscriptions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    project    TEXT COLLATE "C" NOT NULL,
    queue      TEXT COLLATE "C" NOT NULL,
    subscriber TEXT    NOT NULL,
    ttl        BIGINT  NOT NULL,
    options    TEXT    NOT NULL,       -- JSON object
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    confirmed  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX subscriptions_by_queue ON subscriptions (project, queue, id);
CREATE INDEX subscriptions_by_expiry ON subscriptions (expires_at);

-- Read model: which events concern which message (a message's audit history).
CREATE TABLE message_events (
    message_id TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (message_id, seq)
);
