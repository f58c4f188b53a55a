//! Log retention: pruning old events first snapshots the read models, so verification and
//! replay from the snapshot still give the live state, and history past the horizon says so.

use crate::common;
use crate::common::TestServer;
use cairn::model::{Clock, Timestamp};
use cairn::store::sqlite::{rebuild, retention};
use cairn::store::Quiet;
use serde_json::json;

const DAY: i64 = 86_400;

#[tokio::test]
async fn pruning_keeps_the_state_and_says_where_history_stops() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_queue("old", &json!({"kept": true})).await;
    let old = client
        .post_messages("old", &[json!({"body": "a", "ttl": 1_209_600})])
        .await
        .remove(0);
    client
        .claim("old", &json!({"ttl": 120, "grace": 60}), Some(1))
        .await
        .expect("claimed");
    server.advance(3 * DAY);
    let new = client.post_one("fresh", json!({"n": 1})).await;
    client
        .claim("fresh", &json!({"ttl": 120, "grace": 60}), Some(1))
        .await
        .expect("claimed");

    // Keep one day: everything recorded before the advance is pruned.
    let before = Timestamp(server.clock.now().0 - DAY * 1000);
    server.store.prune(before).await.expect("prune");
    let horizon = server.store.horizon().await.expect("horizon");
    assert!(horizon > 0, "events were pruned");

    // The state is unchanged, the old message is still there, its body with it: the event
    // that held the body is gone, so the body was copied into the message's row.
    let got = client.get(&format!("/v2/queues/old/messages/{old}")).await;
    got.expect(200);
    assert_eq!(got.body["body"], "a");
    let meta = client.get("/v2/queues/old").await;
    assert_eq!(meta.body["kept"], true);

    // Its history is gone (pruned) and says so; the new message's history is complete.
    let r = client
        .get(&format!("/v2/queues/old/messages/{old}/history"))
        .await;
    r.expect(404);
    assert!(r.description().contains("pruned"), "{}", r.description());
    let r = client
        .get(&format!("/v2/queues/fresh/messages/{new}/history"))
        .await;
    r.expect(200);
    assert_eq!(r.body["complete"], true);
    assert_eq!(r.body["log_horizon"], horizon);

    // More activity after the prune, then a clean shutdown.
    client
        .claim("old", &json!({"ttl": 60, "grace": 60}), Some(1))
        .await;
    let db = server.dir().path().join("cairn.db");
    let dir = server.dir();
    let clock = server.clock.clone();
    server.shutdown().await;
    let bodies_in_rows = |db: &std::path::Path| -> Vec<(String, bool)> {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut select = conn
            .prepare("SELECT id, body IS NOT NULL FROM messages ORDER BY id")
            .unwrap();
        let rows = select.query_map([], |r| Ok((r.get(0)?, r.get(1)?)));
        rows.unwrap().collect::<Result<_, _>>().unwrap()
    };
    let mut expected = vec![(old.clone(), true), (new.clone(), false)];
    expected.sort();
    assert_eq!(bodies_in_rows(&db), expected, "only the old body moved");

    // A snapshot written before the history index had one row per message still restores:
    // turn this one back into the old layout, one row per (message, event).
    let snapshots: Vec<_> = std::fs::read_dir(retention::snapshot_dir(&db))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    let snap = rusqlite::Connection::open(&snapshots[0]).unwrap();
    let rows: i64 = snap
        .query_row("SELECT COUNT(*) FROM message_history", [], |r| r.get(0))
        .unwrap();
    assert!(rows > 0, "the snapshot holds history");
    snap.execute_batch(
        "CREATE TABLE message_events (message_id TEXT NOT NULL, seq INTEGER NOT NULL,
                                      PRIMARY KEY (message_id, seq)) WITHOUT ROWID;
         INSERT INTO message_events
             SELECT message_id, CAST(value AS INTEGER)
             FROM message_history, json_each('[' || seqs || ']');
         DROP TABLE message_history;",
    )
    .unwrap();
    drop(snap);

    // Verification replays from the snapshot: no divergence.
    let (summary, divergences) = rebuild::verify(&db, dir.path(), &mut Quiet)
        .await
        .expect("verify");
    assert!(divergences.is_empty(), "{divergences:?}");
    assert!(summary.last_seq > horizon);

    // In-place replay from the snapshot gives the same read models again.
    rebuild::in_place(&db, &mut Quiet).await.expect("replay");
    let (_, divergences) = rebuild::verify(&db, dir.path(), &mut Quiet)
        .await
        .expect("verify after replay");
    assert!(divergences.is_empty(), "{divergences:?}");

    // Time travel cannot reach before the snapshot, but can start from it.
    let early = dir.path().join("early/cairn.db");
    assert!(
        rebuild::into(&db, &early, rebuild::Until::Seq(1), &mut Quiet)
            .await
            .is_err()
    );
    let copy = dir.path().join("copy/cairn.db");
    rebuild::into(&db, &copy, rebuild::Until::End, &mut Quiet)
        .await
        .expect("replay into a new store");
    let (_, divergences) = rebuild::verify(&copy, dir.path(), &mut Quiet)
        .await
        .expect("verify the copy");
    assert!(divergences.is_empty(), "{divergences:?}");
    assert_eq!(bodies_in_rows(&copy), expected);

    // After the replays, a server on the store serves both bodies.
    let server = TestServer::open(dir, clock, Default::default()).await;
    let client = common::Client::new(&server.base, &client.client_id, &client.project);
    let got = client.get(&format!("/v2/queues/old/messages/{old}")).await;
    assert_eq!(got.expect(200).body["body"], "a");
    let got = client
        .get(&format!("/v2/queues/fresh/messages/{new}"))
        .await;
    assert_eq!(got.expect(200).body["body"], json!({"n": 1}));
    server.shutdown().await;
}

#[tokio::test]
async fn pruning_nothing_old_changes_nothing() {
    let server = TestServer::start().await;
    let client = server.client();
    client.post_n("q", 3).await;
    let before = Timestamp(server.clock.now().0 - DAY * 1000);
    server.store.prune(before).await.expect("prune");
    assert_eq!(server.store.horizon().await.expect("horizon"), 0);
    server.shutdown().await;
}
