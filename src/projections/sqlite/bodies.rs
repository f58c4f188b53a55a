//! Message bodies live once, in the log. A message row keeps its body `NULL` and points at
//! the event that posted it (`post_seq`) and at its place in that event's list
//! (`post_index`); reads join the row to that event and take the body from its payload.
//! A post thus writes each body once instead of twice, which on slow disks is the larger
//! part of its cost. Retention copies the bodies of live messages into their rows before it
//! prunes the events that hold them; rows so filled keep their own body, as
//! do the rows of an older store that its snapshot holds (`0006_bodies_in_log.sql`).
//!
//! The message queries select [`COLUMNS`] from `messages AS m LEFT JOIN events AS e ON
//! e.seq = m.post_seq` ([`JOIN`]) and hand the last four columns to a [`Bodies`].

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::StoreError;

/// What the message queries join: each row to the event that posted it, if it points at one.
pub const JOIN: &str = "messages AS m LEFT JOIN events AS e ON e.seq = m.post_seq";

/// The columns a [`Bodies`] reads, in this order: the row's own body, the message's index
/// in its posting event, that event's position and its payload.
pub const COLUMNS: &str = "m.body, m.post_index, e.seq, e.payload";

/// The part of a `MessagesPosted` payload that holds the bodies, borrowed from its text.
#[derive(Deserialize)]
struct Posted<'a> {
    #[serde(borrow)]
    messages: Vec<PostedBody<'a>>,
}

#[derive(Deserialize)]
struct PostedBody<'a> {
    #[serde(borrow)]
    body: &'a RawValue,
}

/// The bodies of a `MessagesPosted` payload, in posting order.
fn parse(payload: &str) -> Result<Vec<Box<RawValue>>, StoreError> {
    let posted: Posted = serde_json::from_str(payload)?;
    Ok(posted
        .messages
        .into_iter()
        .map(|m| m.body.to_owned())
        .collect())
}

/// Resolves the bodies of message rows read one after another. Rows posted together are
/// usually read together, so the last payload parsed is kept and each event is parsed
/// once per run of its rows.
#[derive(Default)]
pub struct Bodies {
    seq: Option<i64>,
    bodies: Vec<Box<RawValue>>,
}

impl Bodies {
    /// The body of a row, from [`COLUMNS`]: its own `body` if it has one, or else entry
    /// `index` of the posting event `seq` whose `payload` the join found.
    pub fn body(
        &mut self,
        body: Option<String>,
        index: Option<i64>,
        seq: Option<i64>,
        payload: Option<&str>,
    ) -> Result<Box<RawValue>, StoreError> {
        if let Some(body) = body {
            return Ok(RawValue::from_string(body)?);
        }
        let (Some(index), Some(seq)) = (index, seq) else {
            return Err(StoreError::Corrupt(
                "a message row has neither a body nor its posting event".into(),
            ));
        };
        if self.seq != Some(seq) {
            let payload = payload.ok_or_else(|| {
                StoreError::Corrupt(format!("the payload of event {seq} is missing"))
            })?;
            self.bodies = parse(payload)?;
            self.seq = Some(seq);
        }
        usize::try_from(index)
            .ok()
            .and_then(|i| self.bodies.get(i))
            .cloned()
            .ok_or_else(|| {
                StoreError::Corrupt(format!("event {seq} has no message at index {index}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str = r#"{"type":"MessagesPosted","messages":[
        {"id":"a","marker":1,"body":{"n":[1,2]},"ttl":60,"expires_at":1,"delay_until":0},
        {"id":"b","marker":2,"body":"text \"quoted\"","ttl":60,"expires_at":1,"delay_until":0}
    ]}"#;

    #[test]
    fn a_body_of_its_own_wins() {
        let body = Bodies::default()
            .body(Some("[3]".into()), Some(0), Some(7), Some(PAYLOAD))
            .unwrap();
        assert_eq!(body.get(), "[3]");
    }

    #[test]
    fn bodies_come_verbatim_from_the_posting_event() {
        let mut bodies = Bodies::default();
        let second = bodies.body(None, Some(1), Some(7), Some(PAYLOAD)).unwrap();
        assert_eq!(second.get(), r#""text \"quoted\"""#);
        // The parsed event is reused for its other rows; the payload is not needed again.
        let first = bodies.body(None, Some(0), Some(7), None).unwrap();
        assert_eq!(first.get(), r#"{"n":[1,2]}"#);
    }

    #[test]
    fn a_dangling_pointer_is_reported_as_corruption() {
        let mut bodies = Bodies::default();
        for (index, seq, payload) in [
            (Some(2), Some(7), Some(PAYLOAD)),
            (Some(0), Some(8), None),
            (None, None, None),
            (
                Some(0),
                Some(9),
                Some(r#"{"type":"QueueCreated","metadata":{}}"#),
            ),
        ] {
            let err = bodies.body(None, index, seq, payload).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
        }
    }

    /// The migration points rows written before this layout at their posting event, as a
    /// replay would fold them, except rows the snapshot holds or whose event is gone; the
    /// queries' join resolves both kinds.
    #[test]
    fn the_migration_converts_rows_a_replay_would_fold_and_the_join_resolves_all() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let migrations = crate::schema::SQLITE;
        let (old, new) = migrations.split_at(5);
        for (_, _, sql) in old {
            conn.execute_batch(sql).unwrap();
        }
        let snap_payload = r#"{"type":"MessagesPosted","messages":[
            {"id":"s","marker":2,"body":["snap"],"ttl":60,"expires_at":1,"delay_until":0}]}"#;
        let event = "INSERT INTO events (seq, recorded_at, project, queue, kind, version, payload)
                     VALUES (?1, 0, 'p', 'q', 'MessagesPosted', 1, ?2)";
        conn.execute(event, rusqlite::params![4, snap_payload])
            .unwrap();
        conn.execute(event, rusqlite::params![7, PAYLOAD]).unwrap();
        conn.execute_batch(
            "INSERT INTO log_meta (key, value) VALUES ('snapshot', 5);
             INSERT INTO message_history (message_id, seqs, last_seq)
                 VALUES ('b', '7', 7), ('s', '4', 4), ('z', '2,9', 9);",
        )
        .unwrap();
        let row = "'p', 'q', ?1, ?2, 60, 0, 1, 0, 'c'";
        let old_row = format!(
            "INSERT INTO messages (project, queue, marker, id, ttl, created_at, expires_at,
                                   delay_until, client_id, body)
             VALUES ({row}, ?3)"
        );
        for (marker, id, body) in [
            (1, "b", r#""text \"quoted\"""#),
            (2, "s", r#"["snap"]"#),
            (3, "z", r#"["pruned"]"#),
        ] {
            conn.execute(&old_row, rusqlite::params![marker, id, body])
                .unwrap();
        }
        for (_, _, sql) in new {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute(
            &format!(
                "INSERT INTO messages (project, queue, marker, id, ttl, created_at, expires_at,
                                       delay_until, client_id, post_seq, post_index)
                 VALUES ({row}, 7, 0)"
            ),
            rusqlite::params![4, "a"],
        )
        .unwrap();
        // A row with neither a body nor a pointer is refused.
        let bare = format!(
            "INSERT INTO messages (project, queue, marker, id, ttl, created_at, expires_at,
                                   delay_until, client_id)
             VALUES ({row})"
        );
        assert!(conn.execute(&bare, rusqlite::params![5, "c"]).is_err());

        let layout: Vec<(String, bool, Option<i64>, Option<i64>)> = conn
            .prepare("SELECT id, body IS NULL, post_seq, post_index FROM messages ORDER BY marker")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            layout,
            [
                ("b".into(), true, Some(7), Some(1)),
                ("s".into(), false, None, None),
                ("z".into(), false, None, None),
                ("a".into(), true, Some(7), Some(0)),
            ]
        );

        let mut select = conn
            .prepare(&format!("SELECT {COLUMNS} FROM {JOIN} ORDER BY m.marker"))
            .unwrap();
        let mut rows = select.query([]).unwrap();
        let mut bodies = Bodies::default();
        let mut got = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            let payload = r.get_ref(3).unwrap().as_str_or_null().unwrap();
            let body = bodies
                .body(
                    r.get(0).unwrap(),
                    r.get(1).unwrap(),
                    r.get(2).unwrap(),
                    payload,
                )
                .unwrap();
            got.push(body.get().to_owned());
        }
        assert_eq!(
            got,
            [
                r#""text \"quoted\"""#,
                r#"["snap"]"#,
                r#"["pruned"]"#,
                r#"{"n":[1,2]}"#
            ]
        );
    }
}
