-- Read model: subscriptions (notification targets of a queue).
CREATE TABLE subscriptions (
    id         TEXT    PRIMARY KEY,
    project    TEXT    NOT NULL,
    queue      TEXT    NOT NULL,
    subscriber TEXT    NOT NULL,
    ttl        INTEGER NOT NULL,
    options    TEXT    NOT NULL,       -- JSON object
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    confirmed  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX subscriptions_by_queue ON subscriptions (project, queue, id);
CREATE INDEX subscriptions_by_expiry ON subscriptions (expires_at);
