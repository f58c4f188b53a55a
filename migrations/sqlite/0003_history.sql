-- Read model: which events concern which message (a message's audit history).
CREATE TABLE message_events (
    message_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;

-- The project-scoped event feed reads the log by project in sequence order.
CREATE INDEX events_by_project ON events (project, seq);
