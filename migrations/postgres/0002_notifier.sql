-- The notification engine's checkpoint (`log_meta` key `notifier`): it resumes delivery after
-- this log position. A store from before delivery existed starts at its head, so messages
-- posted then are not sent now.
INSERT INTO log_meta (key, value) SELECT 'notifier', COALESCE(MAX(seq), 0) FROM events
ON CONFLICT (key) DO NOTHING;
