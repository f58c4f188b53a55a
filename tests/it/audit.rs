//! The audit trail: `X-Cairn-Sequence` on every write, a message's history
//! (`GET …/messages/{id}/history`, WebSocket `message_history`), the project's event feed
//! (`GET /v2/events`, WebSocket `event_list`) and the WebSocket event tail
//! (`event_subscribe`: catch-up from the log, then live, without gap or duplicate).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common;
use crate::common::audit::{
    claim_id, feed, history, history_events, post_raw, request_id, seq, seq_of, seqs, types,
};
use crate::common::ws::{envelope, Codec, Frame, WsClient, WsResp};
use crate::common::{new_uuid, Client, Resp, TestServer, START};
use cairn::model::Timestamp;
use serde_json::{json, Value};
use tokio::sync::watch;

/// The instant `secs` after the test clock's start, as the audit views format it.
fn at(secs: i64) -> String {
    Timestamp(START.0 + secs * 1000).to_rfc3339_millis()
}

/// The same instant, as a query parameter (RFC 3339, seconds).
fn at_param(secs: i64) -> String {
    Timestamp(START.0 + secs * 1000).to_rfc3339_secs()
}

/// The event of the feed at `seq` (searching the whole feed of the client's project).
async fn event_at(c: &Client, seq: i64) -> Value {
    let r = c
        .get(&format!("/v2/events?marker={}&limit=1", seq - 1))
        .await;
    r.expect(200);
    let event = r.body["events"][0].clone();
    assert_eq!(
        event["seq"], seq,
        "no event at {seq} in this project: {r:?}"
    );
    event
}

/// The parts of an event other than its payload (history entries narrow only the payload).
fn frame_of(e: &Value) -> Value {
    json!({
        "seq": e["seq"], "type": e["type"], "at": e["at"], "queue": e["queue"],
        "client_id": e["client_id"], "request_id": e["request_id"],
    })
}

/// `headers["X-Cairn-Sequence"]` of a WebSocket response.
fn ws_seq_of(r: &WsResp) -> Option<i64> {
    r.raw["headers"].get("X-Cairn-Sequence").map(|v| {
        v.as_i64()
            .unwrap_or_else(|| panic!("X-Cairn-Sequence is not an integer: {r:?}"))
    })
}

#[track_caller]
fn ws_seq(r: &WsResp) -> i64 {
    ws_seq_of(r).unwrap_or_else(|| panic!("no X-Cairn-Sequence on a write: {r:?}"))
}

// ---- message history -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_lifecycle_is_its_history() {
    let server = TestServer::start().await;
    let c = server.client();
    let c2 = c.other_client();

    let created = c.put("/v2/queues/lc", &json!({})).await;
    created.expect(201);
    server.advance(1); // t = 1
    let (posted, ids) = post_raw(&c, "lc", json!([{"body": {"step": 1}, "ttl": 300}])).await;
    let id = ids[0].clone();
    server.advance(10); // t = 11
    let claimed = c
        .post(
            "/v2/queues/lc/claims?limit=1",
            &json!({"ttl": 60, "grace": 60}),
        )
        .await;
    let claim_a = claim_id(&claimed);
    server.advance(20); // t = 31
    let renewed = c
        .patch(
            &format!("/v2/queues/lc/claims/{claim_a}"),
            &json!({"ttl": 300, "grace": 120}),
        )
        .await;
    renewed.expect(204);
    server.advance(5); // t = 36
    let released = c.delete(&format!("/v2/queues/lc/claims/{claim_a}")).await;
    released.expect(204);
    server.advance(4); // t = 40
    let reclaimed = c2
        .post(
            "/v2/queues/lc/claims?limit=1",
            &json!({"ttl": 100, "grace": 60}),
        )
        .await;
    let claim_b = claim_id(&reclaimed);
    assert_ne!(claim_a, claim_b);
    server.advance(2); // t = 42
    let deleted = c2
        .delete(&format!("/v2/queues/lc/messages/{id}?claim_id={claim_b}"))
        .await;
    deleted.expect(204);
    c.get(&format!("/v2/queues/lc/messages/{id}"))
        .await
        .expect(404);

    let writes = [
        &created, &posted, &claimed, &renewed, &released, &reclaimed, &deleted,
    ];
    let write_seqs: Vec<i64> = writes.iter().map(|r| seq(r)).collect();
    assert_eq!(
        write_seqs,
        (write_seqs[0]..write_seqs[0] + 7).collect::<Vec<_>>(),
        "one event per write, in order"
    );

    let r = history(&c, "lc", &id).await;
    let events = history_events(&r, &id);
    assert_eq!(r.body["complete"], true, "the posting is in the log: {r:?}");
    assert!(
        r.body.get("log_horizon").is_none(),
        "nothing was pruned: {r:?}"
    );
    let (cid, cid2) = (c.client_id.as_str(), c2.client_id.as_str());
    let entry = |w: &Resp, kind: &str, t: i64, client: &str, event: Value| {
        json!({
            "seq": seq(w), "type": kind, "at": at(t), "queue": "lc", "client_id": client,
            "request_id": request_id(w), "event": event,
        })
    };
    let expected = vec![
        entry(
            &posted,
            "MessagesPosted",
            1,
            cid,
            json!({"marker": 1, "ttl": 300, "delay": 0, "expires": at(301)}),
        ),
        entry(
            &claimed,
            "MessagesClaimed",
            11,
            cid,
            json!({"claim_id": claim_a, "ttl": 60, "grace": 60, "claim_expires": at(71),
                   "claim_count": 1, "message_expires": at(301)}),
        ),
        // The renewal outlives the message by the grace: its lifetime is extended.
        entry(
            &renewed,
            "ClaimRenewed",
            31,
            cid,
            json!({"claim_id": claim_a, "ttl": 300, "grace": 120, "claim_expires": at(331),
                   "message_expires": at(451)}),
        ),
        entry(
            &released,
            "ClaimReleased",
            36,
            cid,
            json!({"claim_id": claim_a}),
        ),
        entry(
            &reclaimed,
            "MessagesClaimed",
            40,
            cid2,
            json!({"claim_id": claim_b, "ttl": 100, "grace": 60, "claim_expires": at(140),
                   "claim_count": 2, "message_expires": at(451)}),
        ),
        entry(
            &deleted,
            "MessagesDeleted",
            42,
            cid2,
            json!({"claim_id": claim_b}),
        ),
    ];
    assert_eq!(events.len(), expected.len(), "history: {events:#?}");
    for (got, want) in events.iter().zip(&expected) {
        assert_eq!(got, want);
    }

    // The feed holds the same events, with their whole payloads.
    for e in &events {
        let full = event_at(&c, e["seq"].as_i64().unwrap()).await;
        assert_eq!(frame_of(&full), frame_of(e));
    }
    let posted_event = event_at(&c, seq(&posted)).await;
    assert_eq!(posted_event["event"]["messages"][0]["id"], id.as_str());
    assert_eq!(
        posted_event["event"]["messages"][0]["body"],
        json!({"step": 1})
    );
    assert_eq!(event_at(&c, seq(&created)).await["type"], "QueueCreated");

    // The WebSocket action answers the same document.
    for codec in Codec::ALL {
        let mut ws = WsClient::connect(&server, codec, &c.client_id, &c.project).await;
        let r = ws
            .send(
                "message_history",
                json!({"queue_name": "lc", "message_id": id}),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body, r_body(&c, "lc", &id).await);
        assert!(ws_seq_of(&r).is_none(), "a read with a sequence: {r:?}");
        ws.close().await;
    }
    server.shutdown().await;
}

async fn r_body(c: &Client, queue: &str, id: &str) -> Value {
    let r = history(c, queue, id).await;
    r.expect(200);
    r.body
}

async fn websocket_lifecycle(codec: Codec) {
    let server = TestServer::start().await;
    let c = server.client();
    let mut ws = WsClient::connect(&server, codec, &c.client_id, &c.project).await;

    let created = ws.send("queue_create", json!({"queue_name": "wq"})).await;
    created.expect(201);
    let posted = ws
        .send(
            "message_post",
            json!({"queue_name": "wq", "messages": [{"body": "hello", "ttl": 120}]}),
        )
        .await;
    posted.expect(201);
    let id = posted.body["message_ids"][0].as_str().unwrap().to_owned();
    server.advance(3);
    let claimed = ws
        .send(
            "claim_create",
            json!({"queue_name": "wq", "ttl": 60, "grace": 60, "limit": 5}),
        )
        .await;
    claimed.expect(201);
    let claim = claimed.body["claim_id"].as_str().unwrap().to_owned();
    let renewed = ws
        .send(
            "claim_update",
            json!({"queue_name": "wq", "claim_id": claim, "ttl": 90, "grace": 60}),
        )
        .await;
    renewed.expect(204);
    let released = ws
        .send(
            "claim_delete",
            json!({"queue_name": "wq", "claim_id": claim}),
        )
        .await;
    released.expect(204);
    let reclaimed = ws
        .send("claim_create", json!({"queue_name": "wq", "ttl": 60}))
        .await;
    reclaimed.expect(201);
    let claim2 = reclaimed.body["claim_id"].as_str().unwrap().to_owned();
    let deleted = ws
        .send(
            "message_delete",
            json!({"queue_name": "wq", "message_id": id, "claim_id": claim2}),
        )
        .await;
    deleted.expect(204);

    let writes = [
        &created, &posted, &claimed, &renewed, &released, &reclaimed, &deleted,
    ];
    let write_seqs: Vec<i64> = writes.iter().map(|r| ws_seq(r)).collect();
    common::audit::assert_increasing(&write_seqs);

    // Reads carry no sequence.
    for (action, body) in [
        ("queue_list", json!({})),
        ("queue_get", json!({"queue_name": "wq"})),
        ("queue_get_stats", json!({"queue_name": "wq"})),
        ("message_list", json!({"queue_name": "wq"})),
        ("event_list", json!({})),
        (
            "message_history",
            json!({"queue_name": "wq", "message_id": id}),
        ),
        ("ping_node", json!({})),
    ] {
        let r = ws.send(action, body).await;
        assert!(r.status < 300, "{action}: {r:?}");
        assert!(ws_seq_of(&r).is_none(), "{action} is a read: {r:?}");
    }

    let r = ws
        .send(
            "message_history",
            json!({"queue_name": "wq", "message_id": id}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["message_id"], id.as_str());
    let events = r.body["events"].as_array().unwrap().clone();
    assert_eq!(
        types(&events),
        [
            "MessagesPosted",
            "MessagesClaimed",
            "ClaimRenewed",
            "ClaimReleased",
            "MessagesClaimed",
            "MessagesDeleted"
        ]
    );
    assert_eq!(seqs(&events), write_seqs[1..].to_vec());
    for e in &events {
        assert_eq!(e["client_id"], c.client_id.as_str());
        assert_eq!(e["queue"], "wq");
        assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    }
    assert_eq!(events[1]["event"]["claim_id"], claim.as_str());
    assert_eq!(events[2]["event"]["claim_id"], claim.as_str());
    assert_eq!(events[3]["event"]["claim_id"], claim.as_str());
    assert_eq!(events[4]["event"]["claim_id"], claim2.as_str());
    assert_eq!(events[4]["event"]["claim_count"], 2);
    assert_eq!(events[5]["event"]["claim_id"], claim2.as_str());
    assert_eq!(events[1]["at"], at(3));

    // Same document over REST; the WebSocket event list agrees with the REST feed.
    assert_eq!(r.body, r_body(&c, "wq", &id).await);
    let listed = ws.send("event_list", json!({"limit": 100})).await;
    listed.expect(200);
    assert_eq!(listed.body["events"], json!(feed(&c, "limit=100").await));
    assert_eq!(
        seqs(listed.body["events"].as_array().unwrap()),
        write_seqs,
        "every write's event is in the feed at its sequence"
    );
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_history_json() {
    websocket_lifecycle(Codec::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_history_msgpack() {
    websocket_lifecycle(Codec::MsgPack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_of_messages_and_claims_is_in_the_history() {
    let server = TestServer::start().await;
    let c = server.client();
    let (p2, ids) = post_raw(&c, "ex", json!([{"body": 2, "ttl": 600}])).await;
    let m2 = ids[0].clone();
    let claimed = c
        .post(
            "/v2/queues/ex/claims?limit=1",
            &json!({"ttl": 60, "grace": 60}),
        )
        .await;
    let claim = claim_id(&claimed);
    let (p1, ids) = post_raw(&c, "ex", json!([{"body": 1, "ttl": 60}])).await;
    let m1 = ids[0].clone();

    server.advance(61);
    // Expired, not yet swept: gone from reads, no expiry recorded yet.
    c.get(&format!("/v2/queues/ex/messages/{m1}"))
        .await
        .expect(404);
    let before = history_events(&history(&c, "ex", &m1).await, &m1);
    assert_eq!(seqs(&before), vec![seq(&p1)]);

    let head = server.store.last_seq().await.unwrap();
    server.sweep().await;
    let h1 = history_events(&history(&c, "ex", &m1).await, &m1);
    assert_eq!(types(&h1), ["MessagesPosted", "MessagesExpired"]);
    let expired = &h1[1];
    assert!(expired["seq"].as_i64().unwrap() > head);
    assert_eq!(
        expired["client_id"],
        Value::Null,
        "background work has no client"
    );
    assert_eq!(expired["request_id"], Value::Null);
    assert_eq!(expired["event"], json!({}));
    assert_eq!(expired["at"], at(61));
    assert_eq!(expired["queue"], "ex");

    let h2 = history_events(&history(&c, "ex", &m2).await, &m2);
    assert_eq!(
        types(&h2),
        ["MessagesPosted", "MessagesClaimed", "ClaimExpired"]
    );
    assert_eq!(seqs(&h2)[..2], [seq(&p2), seq(&claimed)]);
    assert_eq!(h2[2]["event"], json!({"claim_id": claim}));
    assert_eq!(h2[2]["client_id"], Value::Null);
    assert!(
        h2[2]["seq"].as_i64() < expired["seq"].as_i64(),
        "claims expire before messages in one sweep"
    );

    server.advance(600);
    server.sweep().await;
    let h2 = history_events(&history(&c, "ex", &m2).await, &m2);
    assert_eq!(
        types(&h2),
        [
            "MessagesPosted",
            "MessagesClaimed",
            "ClaimExpired",
            "MessagesExpired"
        ]
    );
    common::audit::assert_increasing(&seqs(&h2));
    // A sweep with nothing to do leaves the histories alone.
    let head = server.store.last_seq().await.unwrap();
    server.sweep().await;
    assert_eq!(server.store.last_seq().await.unwrap(), head);
    assert_eq!(history_events(&history(&c, "ex", &m2).await, &m2), h2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettering_is_in_the_history() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "dlsrc",
        &json!({"_dead_letter_queue": "dlq", "_max_claim_count": 1,
                "_dead_letter_queue_messages_ttl": 500}),
    )
    .await;
    let (posted, ids) = post_raw(&c, "dlsrc", json!([{"body": "poison", "ttl": 3600}])).await;
    let id = ids[0].clone();
    let claimed = c
        .post("/v2/queues/dlsrc/claims", &json!({"ttl": 60, "grace": 60}))
        .await;
    let claim = claim_id(&claimed);
    let released = c.delete(&format!("/v2/queues/dlsrc/claims/{claim}")).await;
    released.expect(204);
    server.advance(5);
    let moved = c
        .post("/v2/queues/dlsrc/claims", &json!({"ttl": 60, "grace": 60}))
        .await;
    moved.expect(204);
    let moved_seq = seq(&moved);
    // The dead-letter queue did not exist: it was created by the same request.
    let dlq_created = event_at(&c, moved_seq - 1).await;
    assert_eq!(dlq_created["type"], "QueueCreated");
    assert_eq!(dlq_created["queue"], "dlq");
    assert_eq!(dlq_created["request_id"], request_id(&moved).as_str());

    c.get(&format!("/v2/queues/dlq/messages/{id}"))
        .await
        .expect(200);
    c.get(&format!("/v2/queues/dlsrc/messages/{id}"))
        .await
        .expect(404);

    let h = history_events(&history(&c, "dlsrc", &id).await, &id);
    assert_eq!(
        types(&h),
        [
            "MessagesPosted",
            "MessagesClaimed",
            "ClaimReleased",
            "MessageDeadLettered"
        ]
    );
    assert_eq!(
        seqs(&h),
        vec![seq(&posted), seq(&claimed), seq(&released), moved_seq]
    );
    let dead = &h[3];
    assert_eq!(dead["queue"], "dlsrc");
    assert_eq!(dead["client_id"], c.client_id.as_str());
    assert_eq!(
        dead["event"],
        json!({"from_queue": "dlsrc", "to_queue": "dlq", "ttl": 500, "expires": at(505)})
    );

    // Its life goes on in the dead-letter queue, and the history follows it.
    let c2 = c.other_client();
    let again = c2
        .post("/v2/queues/dlq/claims", &json!({"ttl": 60, "grace": 60}))
        .await;
    let claim2 = claim_id(&again);
    let deleted = c2
        .delete(&format!("/v2/queues/dlq/messages/{id}?claim_id={claim2}"))
        .await;
    deleted.expect(204);
    let h = history_events(&history(&c, "dlq", &id).await, &id);
    assert_eq!(
        types(&h)[3..],
        ["MessageDeadLettered", "MessagesClaimed", "MessagesDeleted"]
    );
    assert_eq!(h[4]["queue"], "dlq");
    assert_eq!(h[4]["client_id"], c2.client_id.as_str());
    assert_eq!(
        h[4]["event"]["claim_count"], 1,
        "the count restarts in the DLQ"
    );
    assert_eq!(h[5]["event"], json!({"claim_id": claim2}));
    assert_eq!(r_body(&c, "dlsrc", &id).await, r_body(&c, "dlq", &id).await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_pop_bulk_delete_and_queue_deletion_are_in_the_history() {
    let server = TestServer::start().await;
    let c = server.client();

    let (_, ids) = post_raw(&c, "pq", json!([{"body": 0}, {"body": 1}, {"body": 2}])).await;
    let (claim, _) = c
        .claim("pq", &json!({"ttl": 60}), Some(1))
        .await
        .expect("a claim");
    let purged = c
        .post(
            "/v2/queues/pq/purge",
            &json!({"resource_types": ["messages"]}),
        )
        .await;
    purged.expect(204);
    for (i, id) in ids.iter().enumerate() {
        let h = history_events(&history(&c, "pq", id).await, id);
        let last = h.last().unwrap();
        assert_eq!(last["type"], "QueuePurged", "{h:#?}");
        assert_eq!(last["seq"], seq(&purged));
        assert_eq!(last["event"], json!({}));
        assert_eq!(h.len(), if i == 0 { 3 } else { 2 }, "{h:#?}");
    }
    let h0 = history_events(&history(&c, "pq", &ids[0]).await, &ids[0]);
    assert_eq!(h0[1]["event"]["claim_id"], claim.as_str());

    let (_, ids) = post_raw(&c, "pop", json!([{"body": 0}, {"body": 1}, {"body": 2}])).await;
    let popped = c.delete("/v2/queues/pop/messages?pop=1").await;
    popped.expect(200);
    let h = history_events(&history(&c, "pop", &ids[0]).await, &ids[0]);
    assert_eq!(types(&h), ["MessagesPosted", "MessagesPopped"]);
    assert_eq!(h[1]["seq"], seq(&popped));
    assert_eq!(h[1]["event"], json!({}));
    let bulk = c
        .delete(&format!(
            "/v2/queues/pop/messages?ids={},{}",
            ids[1], ids[2]
        ))
        .await;
    bulk.expect(204);
    for id in &ids[1..] {
        let h = history_events(&history(&c, "pop", id).await, id);
        assert_eq!(types(&h), ["MessagesPosted", "MessagesDeleted"]);
        assert_eq!(h[1]["seq"], seq(&bulk));
        assert_eq!(h[1]["event"], json!({"claim_id": null}));
    }

    let (_, ids) = post_raw(&c, "dq", json!([{"body": 0}, {"body": 1}])).await;
    let dropped = c.delete("/v2/queues/dq").await;
    dropped.expect(204);
    for id in &ids {
        let h = history_events(&history(&c, "dq", id).await, id);
        assert_eq!(types(&h), ["MessagesPosted", "QueueDeleted"]);
        assert_eq!(h[1]["seq"], seq(&dropped));
    }
    // A queue of the same name starts afresh: the old messages' histories do not grow.
    let (_, fresh) = post_raw(&c, "dq", json!([{"body": "new"}])).await;
    let h = history_events(&history(&c, "dq", &ids[0]).await, &ids[0]);
    assert_eq!(h.len(), 2);
    let h = history_events(&history(&c, "dq", &fresh[0]).await, &fresh[0]);
    assert_eq!(types(&h), ["MessagesPosted"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_messages_have_no_history() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_one("known", json!(1)).await;
    for path in [
        format!("/v2/queues/known/messages/{}/history", new_uuid()),
        format!("/v2/queues/missing/messages/{}/history", new_uuid()),
        "/v2/queues/known/messages/not-a-message-id/history".to_owned(),
        "/v2/queues/known/messages/0/history".to_owned(),
    ] {
        let r = c.get(&path).await;
        r.expect_error(404, "Not found");
        assert!(seq_of(&r).is_none());
    }
    let mut ws = WsClient::connect(&server, Codec::Json, &c.client_id, &c.project).await;
    ws.send(
        "message_history",
        json!({"queue_name": "known", "message_id": new_uuid()}),
    )
    .await
    .expect_error(404);
    ws.send("message_history", json!({"queue_name": "known"}))
        .await
        .expect_schema_error();
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_never_see_each_others_audit_trail() {
    let server = TestServer::start().await;
    let a = server.client();
    // Same Client-ID, another project: the project alone separates them.
    let b = a.with_project(&format!("project-{}", new_uuid()));
    let mut a_seqs = Vec::new();
    let mut b_seqs = Vec::new();
    let mut a_ids = Vec::new();
    let mut b_ids = Vec::new();
    for i in 0..5 {
        let (r, ids) = post_raw(&a, "shared", json!([{"body": i}])).await;
        a_seqs.push(seq(&r));
        a_ids.extend(ids);
        let (r, ids) = post_raw(&b, "shared", json!([{"body": i}])).await;
        b_seqs.push(seq(&r));
        b_ids.extend(ids);
    }
    let r = a.post("/v2/queues/shared/claims", &json!({})).await;
    a_seqs.push(seq(&r));

    for id in &a_ids {
        history(&b, "shared", id)
            .await
            .expect_error(404, "Not found");
        history(&a, "shared", id).await.expect(200);
    }
    for id in &b_ids {
        history(&a, "shared", id)
            .await
            .expect_error(404, "Not found");
    }

    let fa = seqs(&feed(&a, "limit=7").await);
    let fb = seqs(&feed(&b, "limit=7").await);
    let fb_queue = seqs(&feed(&b, "queue=shared").await);
    assert_eq!(fb, fb_queue);
    let a_set: BTreeSet<i64> = fa.iter().copied().collect();
    let b_set: BTreeSet<i64> = fb.iter().copied().collect();
    assert!(a_set.is_disjoint(&b_set), "a: {fa:?}, b: {fb:?}");
    for s in &a_seqs {
        assert!(a_set.contains(s) && !b_set.contains(s));
    }
    for s in &b_seqs {
        assert!(b_set.contains(s) && !a_set.contains(s));
    }
    // Together, the two projects' feeds are the whole log.
    let head = server.store.last_seq().await.unwrap();
    let all: BTreeSet<i64> = a_set.union(&b_set).copied().collect();
    assert_eq!(all, (1..=head).collect::<BTreeSet<i64>>());
    // A marker inside the other project's range shows nothing of it either.
    let after = seqs(&feed(&b, &format!("marker={}", a_seqs[0])).await);
    assert!(after.iter().all(|s| b_set.contains(s)));

    // Over the WebSocket too.
    let mut ws = WsClient::connect(&server, Codec::Json, &b.client_id, &b.project).await;
    let r = ws.send("event_list", json!({"limit": 100})).await;
    r.expect(200);
    assert_eq!(seqs(r.body["events"].as_array().unwrap()), fb);
    ws.send(
        "message_history",
        json!({"queue_name": "shared", "message_id": a_ids[0]}),
    )
    .await
    .expect_error(404);
    ws.close().await;
    server.shutdown().await;
}

// ---- the event feed ------------------------------------------------------------------------

/// A mix of writes in two queues over 300 s; returns the sequence of every write.
async fn some_history(server: &TestServer, c: &Client) -> Vec<i64> {
    let mut out = Vec::new();
    out.push(seq(&c.put("/v2/queues/fa", &json!({})).await));
    out.push(seq(&c.put("/v2/queues/fb", &json!({"x": 1})).await));
    for round in 0..3 {
        for i in 0..6 {
            let queue = if i % 2 == 0 { "fa" } else { "fb" };
            let (r, _) = post_raw(c, queue, json!([{"body": [round, i]}, {"body": "x"}])).await;
            out.push(seq(&r));
        }
        let r = c
            .post("/v2/queues/fa/claims?limit=2", &json!({"ttl": 60}))
            .await;
        let claim = claim_id(&r);
        out.push(seq(&r));
        let r = c.delete(&format!("/v2/queues/fa/claims/{claim}")).await;
        out.push(seq(&r));
        let r = c.delete("/v2/queues/fb/messages?pop=1").await;
        out.push(seq(&r));
        server.advance(100);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_pages_by_marker_to_the_end() {
    let server = TestServer::start().await;
    let c = server.client();
    let writes = some_history(&server, &c).await;
    let head = *writes.last().unwrap();
    assert_eq!(writes.len(), 29);
    assert_eq!(head, 29, "one event per write, and nothing else in the log");

    let (events, sizes) = common::audit::collect_pages(&c, "/v2/events?limit=10", "events").await;
    assert_eq!(sizes, vec![10, 10, 9]);
    assert_eq!(seqs(&events), (1..=head).collect::<Vec<_>>());

    // Each next link carries the limit and the last position of its page.
    let r = c.get("/v2/events?limit=10").await;
    r.expect(200);
    let next = r.next_link().expect("next");
    assert!(next.starts_with("/v2/events?"), "{next}");
    assert!(
        next.contains("limit=10") && next.contains("marker=10"),
        "{next}"
    );
    let r2 = c.get(&next).await;
    assert_eq!(seqs(r2.body["events"].as_array().unwrap())[0], 11);

    // Default page size is 20.
    let r = c.get("/v2/events").await;
    r.expect(200);
    assert_eq!(r.body["events"].as_array().unwrap().len(), 20);
    assert!(seq_of(&r).is_none(), "the feed is a read");
    // Past the end: an empty page without a next link.
    for marker in [head, head + 1000] {
        let r = c.get(&format!("/v2/events?marker={marker}")).await;
        r.expect(200);
        assert_eq!(r.body, json!({"events": [], "links": []}));
    }
    // A marker of 0 is the beginning.
    assert_eq!(seqs(&feed(&c, "marker=0&limit=100").await), seqs(&events));
    // Page sizes 1 and 100 see the same feed.
    assert_eq!(seqs(&feed(&c, "limit=1").await), seqs(&events));
    let (all, sizes) = common::audit::collect_pages(&c, "/v2/events?limit=100", "events").await;
    assert_eq!(sizes, vec![29]);
    assert_eq!(all, events);

    // Each event has the documented shape.
    for e in &events {
        let keys: BTreeSet<&str> = e.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "seq",
                "type",
                "at",
                "queue",
                "client_id",
                "request_id",
                "event"
            ]),
            "{e}"
        );
        assert_eq!(e["client_id"], c.client_id.as_str());
        assert!(e["event"].is_object());
        assert!(
            e["event"].get("type").is_none(),
            "the tag is lifted out: {e}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_filters_by_queue_type_and_time() {
    let server = TestServer::start().await;
    let c = server.client();
    some_history(&server, &c).await;
    let all = feed(&c, "limit=100").await;
    let only = |pred: &dyn Fn(&Value) -> bool| -> Vec<Value> {
        all.iter().filter(|e| pred(e)).cloned().collect()
    };

    let fa = only(&|e| e["queue"] == "fa");
    assert!(!fa.is_empty() && fa.len() < all.len());
    assert_eq!(feed(&c, "queue=fa").await, fa);
    assert_eq!(feed(&c, "queue=fa&limit=3").await, fa);
    assert_eq!(feed(&c, "queue=nowhere").await, Vec::<Value>::new());

    let posted = only(&|e| e["type"] == "MessagesPosted");
    assert_eq!(feed(&c, "type=MessagesPosted&limit=4").await, posted);
    let two = only(&|e| e["type"] == "MessagesClaimed" || e["type"] == "ClaimReleased");
    assert_eq!(two.len(), 6);
    assert_eq!(
        feed(&c, "type=MessagesClaimed,ClaimReleased&limit=5").await,
        two
    );
    assert_eq!(
        feed(&c, "type=MessagesClaimed,%20ClaimReleased").await,
        two,
        "blanks around type names are ignored"
    );
    assert!(feed(&c, "type=NoSuchEvent").await.is_empty());
    assert!(
        feed(&c, "type=Messages").await.is_empty(),
        "types match whole names"
    );

    // Events of rounds at t = 0, 100 and 200.
    let since = only(&|e| e["at"].as_str().unwrap() >= at(100).as_str());
    let until = only(&|e| e["at"].as_str().unwrap() < at(200).as_str());
    let between = only(&|e| {
        let t = e["at"].as_str().unwrap();
        t >= at(100).as_str() && t < at(200).as_str()
    });
    assert!(!between.is_empty() && between.len() < until.len() && between.len() < since.len());
    assert_eq!(feed(&c, &format!("since={}", at_param(100))).await, since);
    assert_eq!(
        feed(&c, &format!("until={}&limit=7", at_param(200))).await,
        until
    );
    assert_eq!(
        feed(
            &c,
            &format!("since={}&until={}&limit=3", at_param(100), at_param(200))
        )
        .await,
        between
    );
    // With an offset (the same instant as `at_param(100)`), and with milliseconds.
    assert_eq!(
        feed(&c, "since=2023-11-14T23:15:00%2B01:00").await,
        since,
        "offsets are honoured"
    );
    assert_eq!(feed(&c, &format!("since={}", at(100))).await, since);
    assert!(feed(&c, &format!("since={}", at_param(10_000)))
        .await
        .is_empty());

    let combined = only(&|e| {
        e["queue"] == "fb"
            && e["type"] == "MessagesPosted"
            && e["at"].as_str().unwrap() >= at(100).as_str()
    });
    assert!(!combined.is_empty());
    let query = format!(
        "queue=fb&type=MessagesPosted&since={}&limit=2",
        at_param(100)
    );
    assert_eq!(feed(&c, &query).await, combined);
    // The next link keeps every filter.
    let r = c.get(&format!("/v2/events?{query}")).await;
    let next = r.next_link().unwrap();
    for part in [
        "queue=fb",
        "type=MessagesPosted",
        "since=",
        "limit=2",
        "marker=",
    ] {
        assert!(next.contains(part), "{part} missing from {next}");
    }

    // The WebSocket feed applies the same filters.
    let mut ws = WsClient::connect(&server, Codec::MsgPack, &c.client_id, &c.project).await;
    let r = ws
        .send(
            "event_list",
            json!({"queue_name": "fb", "types": "MessagesPosted", "since": at_param(100),
                   "limit": 100}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["events"], json!(combined));
    let r = ws
        .send("event_list", json!({"marker": all[4]["seq"], "limit": 3}))
        .await;
    r.expect(200);
    assert_eq!(r.body["events"], json!(all[5..8]));
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_rejects_bad_parameters() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_one("q", json!(1)).await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=ten",
        "limit=1.5",
        "marker=abc",
        "marker=1.5",
        "marker=-",
        "since=yesterday",
        "since=2023-11-14",
        "until=2023-13-40T00:00:00Z",
        "until=1700000000",
        "since=2023-11-14T22:13:20Z&until=soon",
    ] {
        let r = c.get(&format!("/v2/events?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {r:?}");
        assert!(!r.description().is_empty(), "{query}: {r:?}");
    }
    for query in [
        "limit=1",
        "limit=100",
        "limit=",
        "marker=",
        "queue=q&limit=100",
    ] {
        c.get(&format!("/v2/events?{query}")).await.expect(200);
    }

    let mut ws = WsClient::connect(&server, Codec::Json, &c.client_id, &c.project).await;
    for body in [
        json!({"limit": 0}),
        json!({"limit": 101}),
        json!({"marker": "abc"}),
        json!({"since": "yesterday"}),
        json!({"until": "2023-13-40T00:00:00Z"}),
    ] {
        let r = ws.send("event_list", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
    }
    ws.send("event_list", json!({"limit": "ten"}))
        .await
        .expect_schema_error();
    ws.send("event_list", json!({"limit": 100}))
        .await
        .expect(200);
    ws.close().await;
    server.shutdown().await;
}

// ---- X-Cairn-Sequence ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_report_the_position_of_their_last_event() {
    let server = TestServer::start().await;
    let c = server.client();
    let q = "/v2/queues/sq";
    let mut writes: Vec<(Resp, &str)> = Vec::new();
    let mut push = |r: Resp, kind: &'static str, status: u16| {
        r.expect(status);
        writes.push((r, kind));
        writes.last().unwrap().0.body.clone()
    };

    push(c.put(q, &json!({})).await, "QueueCreated", 201);
    push(
        c.patch_queue(
            "sq",
            &json!([{"op": "add", "path": "/metadata/owner", "value": "ops"}]),
        )
        .await,
        "QueueMetadataUpdated",
        200,
    );
    let body = push(
        c.post(
            &format!("{q}/messages"),
            &json!({"messages": [{"body": 1}, {"body": 2}, {"body": 3}, {"body": 4}]}),
        )
        .await,
        "MessagesPosted",
        201,
    );
    let ids: Vec<String> = body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| common::last_segment(h.as_str().unwrap()).to_owned())
        .collect();
    let r = c
        .post(&format!("{q}/claims?limit=2"), &json!({"ttl": 60}))
        .await;
    let claim = claim_id(&r);
    push(r, "MessagesClaimed", 201);
    push(
        c.patch(&format!("{q}/claims/{claim}"), &json!({"ttl": 120}))
            .await,
        "ClaimRenewed",
        204,
    );
    push(
        c.delete(&format!("{q}/messages/{}?claim_id={claim}", ids[0]))
            .await,
        "MessagesDeleted",
        204,
    );
    push(
        c.delete(&format!("{q}/claims/{claim}")).await,
        "ClaimReleased",
        204,
    );
    push(
        c.delete(&format!("{q}/messages?pop=1")).await,
        "MessagesPopped",
        200,
    );
    push(
        c.delete(&format!("{q}/messages?ids={}", ids[3])).await,
        "MessagesDeleted",
        204,
    );
    let body = push(
        c.post(
            &format!("{q}/subscriptions"),
            &json!({"subscriber": "http://example.com/hook", "ttl": 3600}),
        )
        .await,
        "SubscriptionCreated",
        201,
    );
    let sub = body["subscription_id"].as_str().unwrap().to_owned();
    push(
        c.patch(&format!("{q}/subscriptions/{sub}"), &json!({"ttl": 7200}))
            .await,
        "SubscriptionUpdated",
        204,
    );
    push(
        c.put(
            &format!("{q}/subscriptions/{sub}/confirm"),
            &json!({"confirmed": true}),
        )
        .await,
        "SubscriptionConfirmed",
        204,
    );
    push(
        c.delete(&format!("{q}/subscriptions/{sub}")).await,
        "SubscriptionDeleted",
        204,
    );
    push(
        c.post_empty(&format!("{q}/purge")).await,
        "QueuePurged",
        204,
    );
    push(c.delete(q).await, "QueueDeleted", 204);
    // Posting to a missing queue creates it: two events, the header names the last.
    push(
        c.post(
            "/v2/queues/lazy/messages",
            &json!({"messages": [{"body": "x"}]}),
        )
        .await,
        "MessagesPosted",
        201,
    );

    let mut previous = 0;
    for (r, kind) in &writes {
        let s = seq(r);
        assert!(s > previous, "{kind}: {s} after {previous}");
        previous = s;
        let event = event_at(&c, s).await;
        assert_eq!(event["type"], *kind, "the write's event at {s}: {event}");
        assert_eq!(event["request_id"], request_id(r).as_str());
        assert_eq!(event["client_id"], c.client_id.as_str());
    }
    let last = &writes.last().unwrap().0;
    let created = event_at(&c, seq(last) - 1).await;
    assert_eq!(created["type"], "QueueCreated");
    assert_eq!(created["queue"], "lazy");
    assert_eq!(created["request_id"], request_id(last).as_str());
    assert_eq!(seq(last), server.store.last_seq().await.unwrap());

    // Writes that change nothing report the head of the log.
    let head = server.store.last_seq().await.unwrap();
    for r in [
        c.post("/v2/queues/empty/claims", &json!({})).await,
        c.put("/v2/queues/lazy", &json!({})).await,
        c.delete(&format!("/v2/queues/lazy/messages/{}", new_uuid()))
            .await,
        c.delete("/v2/queues/never-created").await,
    ] {
        assert!(r.status < 300, "{r:?}");
        assert_eq!(seq(&r), head, "a write that changed nothing: {r:?}");
    }
    // Refused writes wrote nothing and say nothing.
    for r in [
        c.post("/v2/queues/lazy/claims", &json!({"ttl": 1})).await,
        c.patch(
            &format!("/v2/queues/lazy/claims/{}", new_uuid()),
            &json!({"ttl": 60}),
        )
        .await,
        c.post("/v2/queues/lazy/messages", &json!({"messages": []}))
            .await,
    ] {
        assert!(r.status >= 400, "{r:?}");
        assert!(
            seq_of(&r).is_none(),
            "a refused write with a sequence: {r:?}"
        );
    }
    assert_eq!(server.store.last_seq().await.unwrap(), head);

    // Reads never carry it.
    let (_, ids) = post_raw(&c, "reads", json!([{"body": 1}])).await;
    let (claim, _) = c.claim("reads", &json!({}), None).await.unwrap();
    let id = &ids[0];
    for path in [
        "/v2/queues".to_owned(),
        "/v2/queues/reads".to_owned(),
        "/v2/queues/reads/stats".to_owned(),
        "/v2/queues/reads/messages?echo=true&include_claimed=true".to_owned(),
        format!("/v2/queues/reads/messages/{id}"),
        format!("/v2/queues/reads/messages?ids={id}"),
        format!("/v2/queues/reads/messages/{id}/history"),
        format!("/v2/queues/reads/claims/{claim}"),
        "/v2/queues/reads/subscriptions".to_owned(),
        "/v2/events".to_owned(),
        "/v2/health".to_owned(),
        "/v2/ping".to_owned(),
    ] {
        let r = c.get(&path).await;
        assert!(r.status < 300, "{path}: {r:?}");
        assert!(seq_of(&r).is_none(), "GET {path} is a read: {r:?}");
    }
    let r = c.head("/v2/queues/reads").await;
    assert!(r.status < 300 && seq_of(&r).is_none(), "{r:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_websocket_writes_share_one_increasing_sequence() {
    let server = TestServer::start().await;
    let c = server.client();
    let mut ws = WsClient::connect(&server, Codec::MsgPack, &c.client_id, &c.project).await;
    let mut all = Vec::new();
    for i in 0..10 {
        let r = ws
            .send(
                "message_post",
                json!({"queue_name": "mixed", "messages": [{"body": i}]}),
            )
            .await;
        r.expect(201);
        all.push(("ws", ws_seq(&r)));
        let (r, _) = post_raw(&c, "mixed", json!([{"body": i}])).await;
        all.push(("rest", seq(&r)));
    }
    let ordered: Vec<i64> = all.iter().map(|(_, s)| *s).collect();
    common::audit::assert_increasing(&ordered);
    let f = feed(&c, "type=MessagesPosted&limit=100").await;
    assert_eq!(seqs(&f), ordered);
    for (e, (via, _)) in f.iter().zip(&all) {
        // REST request ids come from the response header; WebSocket ones are generated.
        assert!(
            e["request_id"]
                .as_str()
                .is_some_and(|r| r.starts_with("req-")),
            "{via}: {e}"
        );
    }
    ws.close().await;
    server.shutdown().await;
}

// ---- the WebSocket event tail ---------------------------------------------------------------

/// Sends `event_subscribe` and asserts that the very next frame is its `200` response.
async fn subscribe(ws: &mut WsClient, body: Value) -> Value {
    let doc = envelope("event_subscribe", ws.headers(), body);
    ws.send_doc(&doc).await;
    match ws.next_frame(Duration::from_secs(5)).await {
        Some(Frame::Doc(codec, raw)) => {
            assert_eq!(codec, ws.codec);
            assert!(
                raw.get("headers").is_some(),
                "an event arrived before the subscription's response: {raw}"
            );
            assert_eq!(raw["headers"]["status"], 200, "{raw}");
            assert!(raw["headers"].get("X-Cairn-Sequence").is_none());
            raw["body"].clone()
        }
        other => panic!("no response to event_subscribe: {other:?}"),
    }
}

/// Reads event frames until one at or past the target position (set once known) has
/// arrived, then for a little longer (to catch duplicates); at most 60 s.
async fn read_tail(
    mut ws: WsClient,
    mut target: watch::Receiver<Option<i64>>,
) -> (Vec<Value>, WsClient) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut got: Vec<Value> = Vec::new();
    let mut reached: Option<tokio::time::Instant> = None;
    loop {
        let now = tokio::time::Instant::now();
        if now > deadline {
            return (got, ws);
        }
        if let Some(t) = reached {
            if now > t + Duration::from_millis(400) {
                return (got, ws);
            }
        }
        match ws.next_frame(Duration::from_millis(50)).await {
            Some(Frame::Doc(codec, doc)) => {
                assert_eq!(codec, ws.codec, "an event in another codec: {doc}");
                assert_eq!(doc["Message_Type"], "Event", "not an event frame: {doc}");
                got.push(doc);
            }
            Some(other) => panic!("the tail ended: {other:?}"),
            None => {}
        }
        if reached.is_none() {
            let wanted = *target.borrow_and_update();
            if let Some(t) = wanted {
                let last = got.last().and_then(|e| e["seq"].as_i64()).unwrap_or(0);
                if last >= t {
                    reached = Some(tokio::time::Instant::now());
                }
            }
        }
    }
}

/// Frames without their `Message_Type`: the documents of the feed.
fn as_feed(frames: &[Value]) -> Vec<Value> {
    frames
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.as_object_mut().unwrap().remove("Message_Type");
            f
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_tail_catches_up_then_follows_without_gap_or_duplicate() {
    let server = TestServer::start().await;
    let p = server.client();
    let o = Client::new(
        &server.base,
        &new_uuid(),
        &format!("project-{}", new_uuid()),
    );

    // History before the tail: two queues of P, one of O.
    let mut marks = Vec::new();
    for i in 0..30 {
        let queue = if i % 3 == 0 { "t2" } else { "t1" };
        let (r, _) = post_raw(&p, queue, json!([{"body": i}, {"body": i}])).await;
        marks.push(seq(&r));
        post_raw(&o, "t1", json!([{"body": i}])).await;
        if i % 5 == 4 {
            let r = p.post("/v2/queues/t1/claims?limit=3", &json!({})).await;
            let claim = claim_id(&r);
            p.delete(&format!("/v2/queues/t1/claims/{claim}"))
                .await
                .expect(204);
        }
    }
    let marker = marks[14];

    // Tails of P: everything; queue t1; some types; queue t2 and one type. And one of O.
    let specs: Vec<(Codec, Value, String, bool)> = vec![
        (
            Codec::Json,
            json!({"marker": marker}),
            format!("marker={marker}"),
            true,
        ),
        (
            Codec::MsgPack,
            json!({"marker": marker.to_string(), "queue_name": "t1"}),
            format!("marker={marker}&queue=t1"),
            true,
        ),
        (
            Codec::Json,
            json!({"marker": marker, "types": "MessagesClaimed,ClaimReleased,MessagesDeleted"}),
            format!("marker={marker}&type=MessagesClaimed,ClaimReleased,MessagesDeleted"),
            true,
        ),
        (
            Codec::MsgPack,
            json!({"marker": marker, "queue_name": "t2", "types": "MessagesPosted"}),
            format!("marker={marker}&queue=t2&type=MessagesPosted"),
            true,
        ),
        (Codec::Json, json!({"marker": 0}), String::new(), false),
    ];

    // Writers start first, so the catch-up reads the log while events keep committing.
    const POSTS: usize = 300;
    let started = Arc::new(AtomicUsize::new(0));
    let subscribed = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (p, o, started) = (p.clone(), o.clone(), started.clone());
            let subscribed = subscribed.clone();
            tokio::spawn(async move {
                // At least POSTS / 3 each, and some after every tail is subscribed.
                let mut after = 0;
                for i in 0..POSTS {
                    if subscribed.load(Ordering::SeqCst) {
                        after += 1;
                    }
                    if i >= POSTS / 3 && after > 10 {
                        break;
                    }
                    let (c, queue) = match i % 4 {
                        0 => (&o, "t1"),
                        1 => (&p, "t2"),
                        _ => (&p, "t1"),
                    };
                    post_raw(c, queue, json!([{"body": [w, i]}])).await;
                    started.fetch_add(1, Ordering::SeqCst);
                    if i % 10 == 9 {
                        let r = p.post("/v2/queues/t1/claims?limit=2", &json!({})).await;
                        if r.status == 201 {
                            let claim = claim_id(&r);
                            let id =
                                common::last_segment(r.messages()[0]["href"].as_str().unwrap())
                                    .to_owned();
                            p.delete(&format!("/v2/queues/t1/messages/{id}?claim_id={claim}"))
                                .await
                                .expect(204);
                            p.delete(&format!("/v2/queues/t1/claims/{claim}"))
                                .await
                                .expect(204);
                        }
                    }
                }
            })
        })
        .collect();
    while started.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let mut readers = Vec::new();
    let mut targets = Vec::new();
    for (codec, body, _, in_p) in &specs {
        let (client_id, project) = match in_p {
            true => (new_uuid(), p.project.clone()),
            false => (new_uuid(), o.project.clone()),
        };
        let mut ws = WsClient::connect(&server, *codec, &client_id, &project).await;
        let answer = subscribe(&mut ws, body.clone()).await;
        let expected_marker = body["marker"]
            .as_i64()
            .or_else(|| body["marker"].as_str().and_then(|m| m.parse().ok()))
            .unwrap();
        assert_eq!(answer["marker"], expected_marker, "{answer}");
        let (tx, rx) = watch::channel::<Option<i64>>(None);
        targets.push(tx);
        readers.push(tokio::spawn(read_tail(ws, rx)));
    }

    let during = started.load(Ordering::SeqCst);
    subscribed.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.expect("writer");
    }
    assert!(
        started.load(Ordering::SeqCst) > during,
        "writes went on after the tails were subscribed"
    );
    let mut expected = Vec::new();
    for (i, (_, _, query, in_p)) in specs.iter().enumerate() {
        let c = if *in_p { &p } else { &o };
        let query = if query.is_empty() {
            "limit=100".to_owned()
        } else {
            format!("{query}&limit=100")
        };
        let events = feed(c, &query).await;
        let last = events.last().and_then(|e| e["seq"].as_i64()).unwrap_or(0);
        targets[i].send(Some(last)).unwrap();
        expected.push(events);
    }
    for (i, reader) in readers.into_iter().enumerate() {
        let (frames, ws) = reader.await.expect("reader");
        let got = as_feed(&frames);
        let want = &expected[i];
        let (got_seqs, want_seqs) = (seqs(&got), seqs(want));
        if got_seqs != want_seqs {
            let g: BTreeSet<i64> = got_seqs.iter().copied().collect();
            let w: BTreeSet<i64> = want_seqs.iter().copied().collect();
            panic!(
                "tail {i} ({}): {} frames, {} expected; missing {:?}; unexpected {:?}; \
                 duplicates {}; ordered {}",
                specs[i].1,
                got_seqs.len(),
                want_seqs.len(),
                w.difference(&g).collect::<Vec<_>>(),
                g.difference(&w).collect::<Vec<_>>(),
                got_seqs.len() - g.len(),
                got_seqs.windows(2).all(|p| p[0] < p[1]),
            );
        }
        assert_eq!(&got, want, "tail {i}: the frames are the feed's documents");
        assert!(!want.is_empty(), "tail {i} saw nothing");
        if i < 4 {
            assert!(want[0]["seq"].as_i64().unwrap() > marker);
        }
        if i == 0 {
            assert!(want.len() > POSTS / 2, "{}", want.len());
        }
        ws.close().await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_tail_goes_live_and_mixes_with_responses() {
    let server = TestServer::start().await;
    let c = server.client();
    for i in 0..5 {
        c.post_one("live", json!(i)).await;
    }
    let head = server.store.last_seq().await.unwrap();

    // From the head: nothing to catch up; then each new event, once.
    let mut ws = WsClient::connect(&server, Codec::Json, &c.client_id, &c.project).await;
    let answer = subscribe(&mut ws, json!({"marker": head})).await;
    assert_eq!(answer["marker"], head);
    ws.expect_no_push(Duration::from_millis(200)).await;
    let (r, ids) = post_raw(&c, "live", json!([{"body": "new"}])).await;
    let e = ws.recv_push().await;
    assert_eq!(e["seq"], seq(&r));
    assert_eq!(e["type"], "MessagesPosted");
    assert_eq!(e["Message_Type"], "Event");
    assert_eq!(e["event"]["messages"][0]["id"], ids[0].as_str());
    ws.expect_no_push(Duration::from_millis(200)).await;

    // The connection still answers requests; its own writes arrive as events too.
    let r = ws
        .send(
            "message_post",
            json!({"queue_name": "live", "messages": [{"body": "ws"}]}),
        )
        .await;
    r.expect(201);
    let e = ws.recv_push().await;
    assert_eq!(e["seq"], ws_seq(&r));
    let r = ws
        .send("queue_get_stats", json!({"queue_name": "live"}))
        .await;
    r.expect(200);
    assert_eq!(r.body["messages"]["total"], 7);
    ws.expect_no_push(Duration::from_millis(200)).await;

    // Subscribing again replaces the tail: from the start this time, no marker.
    let _ = subscribe(&mut ws, json!({})).await;
    let want = feed(&c, "limit=100").await;
    assert_eq!(want.len(), 8);
    let mut got = Vec::new();
    for _ in 0..want.len() {
        got.push(ws.recv_push().await);
    }
    assert_eq!(as_feed(&got), want);
    ws.expect_no_push(Duration::from_millis(200)).await;

    // Writes of another project never arrive.
    let other = c.with_project(&format!("project-{}", new_uuid()));
    post_raw(&other, "live", json!([{"body": "elsewhere"}])).await;
    ws.expect_no_push(Duration::from_millis(300)).await;
    let (r, _) = post_raw(&c, "live", json!([{"body": "mine"}])).await;
    assert_eq!(ws.recv_push().await["seq"], seq(&r));

    // Bad subscriptions are refused.
    ws.send("event_subscribe", json!({"marker": "abc"}))
        .await
        .expect(400);
    ws.send("event_subscribe", json!({"queue_name": "bad name!"}))
        .await
        .expect(400);
    ws.send("event_subscribe", json!({"types": {"a": 1}}))
        .await
        .expect(400);
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_tail_follows_a_long_catch_up() {
    // More history than one catch-up page (200), with a type filter that matches sparsely.
    let server = TestServer::start().await;
    let c = server.client();
    for i in 0..450 {
        let (r, _) = post_raw(&c, "long", json!([{"body": i}])).await;
        if i % 50 == 0 {
            let cl = c.post("/v2/queues/long/claims?limit=1", &json!({})).await;
            claim_id(&cl);
        }
        let _ = r;
    }
    for (marker, query, body) in [
        (0, "limit=100".to_owned(), json!({})),
        (
            7,
            "marker=7&type=MessagesClaimed&limit=100".to_owned(),
            json!({"marker": 7, "types": "MessagesClaimed"}),
        ),
    ] {
        let want = feed(&c, &query).await;
        let mut ws = WsClient::connect(&server, Codec::MsgPack, &c.client_id, &c.project).await;
        let answer = subscribe(&mut ws, body).await;
        assert_eq!(answer["marker"], marker);
        let mut got = Vec::new();
        for _ in 0..want.len() {
            got.push(ws.recv_push().await);
        }
        ws.expect_no_push(Duration::from_millis(300)).await;
        assert_eq!(as_feed(&got), want);
        ws.close().await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_successful_write_reports_a_position_even_with_odd_ids() {
    let server = TestServer::start().await;
    let c = server.client();
    post_raw(&c, "odd", json!([{"body": 1}])).await;
    let head = server.store.last_seq().await.unwrap();
    let mut ws = WsClient::connect(&server, Codec::Json, &c.client_id, &c.project).await;
    // Well-formed unknown ids: the write runs, changes nothing, reports the head.
    let r = c
        .delete(&format!("/v2/queues/odd/claims/{}", new_uuid()))
        .await;
    r.expect(204);
    assert_eq!(seq_of(&r), Some(head), "{r:?}");
    let r = c.delete("/v2/queues/odd/messages/not-a-message-id").await;
    r.expect(204);
    assert_eq!(seq_of(&r), Some(head), "{r:?}");
    // A claim id that cannot name a claim is answered like an unknown one (204) — and
    // should report the head like every other write that changed nothing.
    let r = c.delete("/v2/queues/odd/claims/not-a-claim-id").await;
    r.expect(204);
    let w = ws
        .send(
            "claim_delete",
            json!({"queue_name": "odd", "claim_id": "not-a-claim-id"}),
        )
        .await;
    w.expect(204);
    assert_eq!(
        (seq_of(&r), ws_seq_of(&w)),
        (Some(head), Some(head)),
        "DELETE …/claims/not-a-claim-id answers 204 without X-Cairn-Sequence: REST {r:?}, \
         WebSocket {w:?}"
    );
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_are_exact_under_group_commit() {
    // Concurrent writes share transactions (group commit); each still reports its own event.
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("busy", &json!({})).await;
    let tasks: Vec<_> = (0..6)
        .map(|t| {
            let c = c.other_client();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for i in 0..40 {
                    let r = if i % 5 == 4 {
                        c.post("/v2/queues/busy/claims?limit=2", &json!({})).await
                    } else {
                        post_raw(&c, "busy", json!([{"body": [t, i]}, {"body": "b"}]))
                            .await
                            .0
                    };
                    out.push((seq_of(&r), request_id(&r), r.status, c.client_id.clone()));
                }
                out
            })
        })
        .collect();
    let mut writes = Vec::new();
    for t in tasks {
        writes.extend(t.await.unwrap());
    }
    let by_seq: std::collections::HashMap<i64, Value> = feed(&c, "limit=100")
        .await
        .into_iter()
        .map(|e| (e["seq"].as_i64().unwrap(), e))
        .collect();
    let mut seen = BTreeSet::new();
    for (s, rid, status, client) in &writes {
        let s = s.unwrap_or_else(|| panic!("a write without a sequence ({status})"));
        if *status == 204 {
            continue; // a claim that found nothing: the head at the time, no event of its own
        }
        assert!(seen.insert(s), "two writes report position {s}");
        let e = &by_seq[&s];
        assert_eq!(e["request_id"], rid.as_str(), "the event at {s}: {e}");
        assert_eq!(e["client_id"], client.as_str());
        let kind = if *status == 201 && e["type"] == "MessagesClaimed" {
            "MessagesClaimed"
        } else {
            "MessagesPosted"
        };
        assert_eq!(e["type"], kind);
    }
    server.shutdown().await;
}
