//! Expiry of messages and claims (reference §5.3, §5.4), driven by the manual clock; the
//! sweeper is run explicitly to check that recording the expiry changes nothing visible.

use crate::common::{metadata_with, TestServer};
use cairn::commands::load::SWEEP_BATCH;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_message_disappears_from_every_read_path() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c
        .post_messages(
            "q",
            &[
                json!({"body": "short", "ttl": 60}),
                json!({"body": "long", "ttl": 3600}),
            ],
        )
        .await;
    let (short, long) = (&ids[0], &ids[1]);

    server.advance(59);
    let r = c.get(&format!("/v2/queues/q/messages/{short}")).await;
    r.expect(200);
    assert_eq!((&r.body["age"], &r.body["ttl"]), (&json!(59), &json!(60)));
    assert_eq!(c.list_ids("q", "echo=true").await, ids);

    server.advance(2);
    assert_eq!(c.list_ids("q", "echo=true").await, vec![long.clone()]);
    assert_eq!(
        c.list_ids("q", "echo=true&include_claimed=true&include_delayed=true")
            .await,
        vec![long.clone()]
    );
    c.get(&format!("/v2/queues/q/messages/{short}"))
        .await
        .expect_error(404, "Not found");
    c.get(&format!("/v2/queues/q/messages?ids={short}"))
        .await
        .expect(404);
    let r = c
        .get(&format!("/v2/queues/q/messages?ids={short},{long}"))
        .await;
    assert_eq!(r.message_ids(), vec![long.clone()]);

    let stats = c.stats("q").await;
    assert_eq!(
        (&stats["total"], &stats["free"], &stats["claimed"]),
        (&json!(1), &json!(1), &json!(0))
    );
    let long_href = format!("/v2/queues/q/messages/{long}");
    assert_eq!(stats["oldest"]["href"], long_href.as_str());
    assert_eq!(stats["newest"]["href"], long_href.as_str());

    let (_, claimed) = c.claim("q", &json!({}), None).await.expect("claim");
    let claimed: Vec<&str> = claimed.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(claimed, vec![long.as_str()]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_messages_cannot_be_popped() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_messages("q", &[json!({"body": 1, "ttl": 60})]).await;
    let keep = c.post_one("q", json!(2)).await;

    server.advance(61);
    let r = c.delete("/v2/queues/q/messages?pop=20").await;

    r.expect(200);
    assert_eq!(r.message_ids(), vec![keep]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeping_expired_messages_changes_nothing_visible() {
    let server = TestServer::start().await;
    let c = server.client();
    let other = server.client();
    c.create_queue("q", &json!({"_default_message_ttl": 60, "owner": "ops"}))
        .await;
    let expiring = c.post_n("q", 3).await;
    let kept = c
        .post_messages("q", &[json!({"body": "kept", "ttl": 600})])
        .await;
    other
        .post_messages("elsewhere", &[json!({"body": 1, "ttl": 60})])
        .await;

    server.advance(61);
    server.sweep().await;
    server.sweep().await; // sweeping twice is harmless

    assert_eq!(c.list_ids("q", "echo=true").await, kept);
    for id in &expiring {
        c.get(&format!("/v2/queues/q/messages/{id}"))
            .await
            .expect(404);
        c.delete(&format!("/v2/queues/q/messages/{id}"))
            .await
            .expect(204);
    }
    let stats = c.stats("q").await;
    assert_eq!((&stats["total"], &stats["free"]), (&json!(1), &json!(1)));
    assert_eq!(
        other.stats("elsewhere").await,
        json!({"claimed": 0, "free": 0, "total": 0})
    );

    // The queues outlive their messages, metadata intact.
    c.head("/v2/queues/q").await.expect(204);
    other.head("/v2/queues/elsewhere").await.expect(204);
    assert_eq!(
        c.get("/v2/queues/q").await.body,
        metadata_with(json!({"_default_message_ttl": 60, "owner": "ops"}))
    );

    // Posting and paging go on after the sweep, in posting order.
    let later = c.post_n("q", 2).await;
    let mut all = kept.clone();
    all.extend(later);
    assert_eq!(c.list_ids("q", "echo=true").await, all);
    let r = c.get("/v2/queues/q/messages?echo=true&limit=1").await;
    let next = r.next_link().expect("next");
    let r = c.get(&next).await;
    assert_eq!(r.message_ids(), all[1..2].to_vec());
    server.shutdown().await;
}

/// A backlog larger than one sweep's limit is recorded in full by one call, in sweeps of at
/// most that many, each a transaction of its own: none holds the writer up for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_swept_in_bounded_steps() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"_default_message_ttl": 60}))
        .await;
    let limit = usize::try_from(SWEEP_BATCH).expect("a small limit");
    let backlog = 2 * limit + limit / 2;
    for _ in 0..backlog / 10 {
        c.post_n("q", 10).await;
    }
    server.advance(61);

    let sweeps = server
        .store
        .sweep(|| true)
        .await
        .expect("the sweep succeeds");
    assert_eq!(sweeps, 3, "two full sweeps, then one with nothing more due");
    let text = server.metrics().await;
    let expired = format!("cairn_messages_total{{outcome=\"expired\"}} {backlog}");
    assert!(text.lines().any(|l| l == expired), "{text}");
    assert!(text
        .lines()
        .any(|l| l == "cairn_events_total{type=\"MessagesExpired\"} 3"));
    assert_eq!(
        server.store.sweep(|| true).await.expect("an empty sweep"),
        1
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_claim_frees_its_messages() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;
    let (claim_id, _) = c
        .claim("q", &json!({"ttl": 60, "grace": 60}), None)
        .await
        .expect("claim");
    let path = format!("/v2/queues/q/claims/{claim_id}");

    server.advance(59);
    c.get(&path).await.expect(200);
    assert!(c.claim("q", &json!({}), None).await.is_none());
    assert_eq!(c.stats("q").await["claimed"], 2);

    server.advance(2);
    c.get(&path).await.expect_error(404, "Not found");
    c.patch(&path, &json!({"ttl": 100}))
        .await
        .expect_error(404, "Not found");
    assert_eq!(c.stats("q").await["claimed"], 0);
    assert_eq!(c.stats("q").await["free"], 2);
    let r = c.get("/v2/queues/q/messages?echo=true").await;
    assert_eq!(r.message_ids(), ids);
    assert_eq!(
        r.messages()[0]["href"],
        format!("/v2/queues/q/messages/{}", ids[0])
    );

    // Its claim id no longer deletes it (the message may be someone else's by now).
    c.delete(&format!(
        "/v2/queues/q/messages/{}?claim_id={claim_id}",
        ids[0]
    ))
    .await
    .expect_error(400, "Unable to delete");

    // Without a live claim, the message can be deleted without a claim id.
    c.delete(&format!("/v2/queues/q/messages/{}", ids[0]))
        .await
        .expect(204);

    let (second, claimed) = c
        .claim("q", &json!({}), None)
        .await
        .expect("claimable again");
    assert_ne!(second, claim_id);
    assert_eq!(claimed[0]["id"], ids[1].as_str());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeping_expired_claims_keeps_live_ones() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 2).await;
    let (short, _) = c
        .claim("q", &json!({"ttl": 60}), Some(1))
        .await
        .expect("short claim");
    let (long, _) = c
        .claim("q", &json!({"ttl": 600}), Some(1))
        .await
        .expect("long claim");

    server.sweep().await;
    c.get(&format!("/v2/queues/q/claims/{short}"))
        .await
        .expect(200);

    server.advance(61);
    server.sweep().await;

    c.get(&format!("/v2/queues/q/claims/{short}"))
        .await
        .expect(404);
    c.delete(&format!("/v2/queues/q/claims/{short}"))
        .await
        .expect(204);
    let r = c.get(&format!("/v2/queues/q/claims/{long}")).await;
    r.expect(200);
    assert_eq!((&r.body["age"], &r.body["ttl"]), (&json!(61), &json!(600)));
    let stats = c.stats("q").await;
    assert_eq!((&stats["claimed"], &stats["free"]), (&json!(1), &json!(1)));
    let (_, claimed) = c.claim("q", &json!({}), None).await.expect("freed message");
    assert_eq!(claimed.len(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_message_lives_until_claim_expiry_plus_grace() {
    let server = TestServer::start().await;
    let c = server.client();
    let id = c
        .post_messages("q", &[json!({"body": 1, "ttl": 60})])
        .await
        .remove(0);
    let path = format!("/v2/queues/q/messages/{id}");
    c.claim("q", &json!({"ttl": 120, "grace": 60}), None)
        .await
        .expect("claim");

    server.advance(121);
    server.sweep().await;
    let r = c.get(&path).await;
    r.expect(200);
    assert_eq!(r.body["ttl"], 180);
    assert_eq!(c.list_ids("q", "echo=true").await, vec![id.clone()]);

    server.advance(60);
    c.get(&path).await.expect(404);
    server.sweep().await;
    c.get(&path).await.expect(404);
    assert!(c
        .list_ids("q", "echo=true&include_claimed=true")
        .await
        .is_empty());
    assert_eq!(
        c.stats("q").await,
        json!({"claimed": 0, "free": 0, "total": 0})
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_volume_excludes_expired_messages() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_messages("q", &[json!({"body": 1, "ttl": 60})]).await;
    c.post_n("q", 2).await;
    c.claim("q", &json!({"ttl": 60}), Some(1))
        .await
        .expect("claim");

    server.advance(61);

    // The claim is over; the short message was extended by it to 120 s.
    assert_eq!(
        c.get("/v2/health").await.body["message_volume"],
        json!({"free": 3, "claimed": 0, "total": 3})
    );
    server.advance(60);
    server.sweep().await;
    assert_eq!(
        c.get("/v2/health").await.body["message_volume"],
        json!({"free": 2, "claimed": 0, "total": 2})
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_an_expired_claim_can_be_popped() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;
    c.claim("q", &json!({"ttl": 60}), None)
        .await
        .expect("claim");
    let r = c.delete("/v2/queues/q/messages?pop=5").await;
    assert_eq!(r.body, json!({"messages": []}));

    server.advance(61);
    let r = c.delete("/v2/queues/q/messages?pop=5").await;

    r.expect(200);
    assert_eq!(r.message_ids(), ids);
    for m in r.messages() {
        assert_eq!(m["claim_id"], serde_json::Value::Null, "{r:?}");
    }
    server.shutdown().await;
}
