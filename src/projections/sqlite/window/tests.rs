//! The windowed fold against the per-event fold.
use super::*;
use crate::events::{Event, MessagesDeleted, MessagesPosted, PostedMessage};
use crate::model::{MessageBody, MessageId, Timestamp};
use crate::projections::sqlite::fold;

fn store() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for (_, _, sql) in crate::schema::SQLITE {
        conn.execute_batch(sql).unwrap();
    }
    conn
}

fn envelope(seq: i64, event: Event) -> Envelope {
    Envelope {
        seq,
        at: Timestamp(1_000 + seq),
        project: ProjectId::from_stored("p".into()),
        queue: QueueName::from_stored("q".into()),
        client_id: Some(ClientId::from_stored("c".into())),
        request_id: None,
        event,
    }
}

fn posted(ids: &[MessageId], first_marker: i64) -> Event {
    let messages = ids
        .iter()
        .zip(first_marker..)
        .map(|(id, marker)| PostedMessage {
            id: id.clone(),
            marker,
            body: MessageBody::from_value(&serde_json::json!({"n": marker})),
            ttl: 60,
            expires_at: Timestamp(61_000),
            delay_until: Timestamp(1_000),
            checksum: None,
        })
        .collect();
    Event::MessagesPosted(MessagesPosted { messages })
}

fn deleted(ids: &[MessageId]) -> Event {
    Event::MessagesDeleted(MessagesDeleted {
        ids: ids.to_vec(),
        claim_id: None,
    })
}

fn rows(conn: &Connection, sql: &str) -> Vec<String> {
    conn.prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The writer's fold and the window give the same tables for a log in which most
/// messages are posted and deleted within the window (their histories are written
/// while it fills, several statements' worth), ids are named again after they left it,
/// and one message remains.
#[test]
fn finished_histories_match_the_per_event_fold() {
    let ids: Vec<MessageId> = (0..2 * ROWS_PER_STATEMENT + 7)
        .map(|_| MessageId::generate())
        .collect();
    let (late, gone) = ids.split_last().unwrap();
    let log = [
        envelope(1, posted(&ids, 1)),
        envelope(2, deleted(gone)),
        // The first were written while the window filled, the last are still held.
        envelope(3, deleted(&[&gone[..3], &gone[gone.len() - 3..]].concat())),
        envelope(4, deleted(&[gone[0].clone(), late.clone()])),
        envelope(5, posted(&[MessageId::generate()], ids.len() as i64 + 1)),
    ];
    let writer = store();
    for env in &log {
        fold::apply(&writer, env).unwrap();
    }
    let replayed = store();
    let mut window = Window::new(&replayed, DEFAULT_ENTRIES);
    for env in &log {
        window.apply(env).unwrap();
    }
    window.write_out().unwrap();
    for sql in [
        "SELECT message_id || ' ' || seqs || ' ' || last_seq FROM message_history ORDER BY 1",
        "SELECT id || ' ' || marker || ' ' || post_seq || ' ' || post_index FROM messages
         ORDER BY 1",
    ] {
        assert_eq!(rows(&replayed, sql), rows(&writer, sql), "{sql}");
    }
    let first = format!(
        "SELECT seqs FROM message_history WHERE message_id = '{}'",
        gone[0]
    );
    assert_eq!(rows(&replayed, &first), ["1,2,3,4"]);
    assert_eq!(
        rows(&replayed, "SELECT count(*) || '' FROM messages"),
        ["1"]
    );
}

fn text(key: &Key) -> String {
    key.with_text(str::to_owned)
}

#[test]
fn canonical_uuids_are_keyed_by_their_bits_and_written_back_unchanged() {
    let id = MessageId::generate();
    let key = Key::of(id.as_str());
    assert!(matches!(key, Key::Uuid(_)));
    assert_eq!(text(&key), id.as_str());
}

#[test]
fn other_ids_keep_their_text() {
    for id in ["not-a-uuid", "0190C8B2-7A6C-7000-8000-000000000000", ""] {
        let key = Key::of(id);
        assert_eq!(key, Key::Text(id.into()));
        assert_eq!(text(&key), id);
    }
}

#[test]
fn keys_sort_like_their_text() {
    let mut ids: Vec<String> = (0..200)
        .map(|i| uuid::Uuid::from_u128(0x0190_c8b2_7a6c_7000_8000 + i * 0x1_0000_0001).to_string())
        .chain((0..50).map(|_| MessageId::generate().as_str().to_owned()))
        .collect();
    let mut keys: Vec<Key> = ids.iter().map(|id| Key::of(id)).collect();
    ids.sort();
    keys.sort();
    assert_eq!(keys.iter().map(text).collect::<Vec<_>>(), ids);
}
