-- The history index, one row per message instead of one per (message, event): the log
-- positions of the events that concern the message, ascending and comma-separated, and the
-- last of them (retention drops the rows whose last event it pruned). A third of the rows
-- and half the bytes of the old index, which a replay writes in full.
CREATE TABLE message_history (
    message_id TEXT    PRIMARY KEY,
    seqs       TEXT    NOT NULL,
    last_seq   INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO message_history (message_id, seqs, last_seq)
    SELECT message_id, group_concat(seq, ',' ORDER BY seq), MAX(seq)
    FROM message_events GROUP BY message_id;

DROP TABLE message_events;
