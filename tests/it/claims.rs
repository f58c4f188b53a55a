//! Claim endpoints: create, get, renew, release; message lifetime extension and
//! dead-lettering (reference §2.6, §5.4).

use crate::common;
use crate::common::{last_segment, TestServer};
use serde_json::json;

// ---- create --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_answers_201_with_location_and_the_claimed_messages() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 3).await;
    server.advance(5);

    let r = c
        .post(
            "/v2/queues/q/claims?limit=2",
            &json!({"ttl": 300, "grace": 60}),
        )
        .await;

    r.expect(201);
    let location = r.location();
    assert!(location.starts_with("/v2/queues/q/claims/"), "{location}");
    let claim_id = last_segment(location);
    assert!(!claim_id.is_empty());
    assert_eq!(
        r.body,
        json!({"messages": [
            {"id": ids[0], "href": format!("/v2/queues/q/messages/{}?claim_id={claim_id}", ids[0]),
             "ttl": 3600, "age": 5, "body": {"n": 0}},
            {"id": ids[1], "href": format!("/v2/queues/q/messages/{}?claim_id={claim_id}", ids[1]),
             "ttl": 3600, "age": 5, "body": {"n": 1}},
        ]})
    );
    let stats = c.stats("q").await;
    assert_eq!((&stats["claimed"], &stats["free"]), (&json!(2), &json!(1)));
    server.shutdown().await;
}

/// Posts and claims sent at once share the writer's batches, so claims are decided right
/// after posts that are not yet committed: each claimed body must still come back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_in_the_same_commit_as_the_posts_return_their_bodies() {
    const POSTS: usize = 60;
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({})).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..POSTS {
        let poster = c.clone();
        tasks.spawn(async move {
            let body = json!({"messages": [{"body": {"n": n}, "ttl": 300}]});
            poster
                .post("/v2/queues/q/messages", &body)
                .await
                .expect(201);
            Vec::new()
        });
        let claimer = c.clone();
        tasks.spawn(async move {
            let claim = json!({"ttl": 300, "grace": 60});
            let got = claimer.claim("q", &claim, Some(2)).await;
            got.map(|(_, messages)| messages).unwrap_or_default()
        });
    }
    let mut seen = Vec::new();
    while let Some(claimed) = tasks.join_next().await {
        seen.extend(claimed.expect("the task ends"));
    }
    // What the concurrent claims left, claimed now.
    while let Some((_, messages)) = c.claim("q", &json!({"ttl": 300}), Some(20)).await {
        seen.extend(messages);
    }
    let mut numbers: Vec<u64> = seen
        .iter()
        .map(|m| m["body"]["n"].as_u64().expect("a whole body"))
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..POSTS as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_takes_ten_messages_by_default_and_ignores_echo() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 12).await;

    // The poster itself can claim its own messages.
    let (_, claimed) = c.claim("q", &json!({}), None).await.expect("claim");

    let claimed: Vec<&str> = claimed.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        claimed,
        ids[..10].iter().map(String::as_str).collect::<Vec<_>>()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_answers_204_when_there_is_nothing_to_claim() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("empty", &json!({})).await;

    for queue in ["empty", "missing"] {
        let r = c
            .post(&format!("/v2/queues/{queue}/claims"), &json!({}))
            .await;
        r.expect(204).expect_empty();
        assert!(r.header("location").is_none(), "{r:?}");
    }

    c.post_n("q", 2).await;
    c.claim("q", &json!({}), None).await.expect("first claim");
    let other = c.other_client();
    assert!(other.claim("q", &json!({}), None).await.is_none());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_without_a_body_uses_the_default_ttl() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    let r = c.post_empty("/v2/queues/q/claims").await;
    r.expect(201);

    let claim = c.get(r.location()).await;
    claim.expect(200);
    assert_eq!(claim.body["ttl"], 300);
    server.shutdown().await;
}

// ---- get -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_claim_reports_age_ttl_href_and_messages() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;
    server.advance(61);
    let (claim_id, _) = c
        .claim("q", &json!({"ttl": 120, "grace": 60}), None)
        .await
        .expect("claim");
    server.advance(19);

    let r = c.get(&format!("/v2/queues/q/claims/{claim_id}")).await;

    r.expect(200);
    assert_eq!(
        r.body,
        json!({
            "age": 19,
            "ttl": 120,
            "href": format!("/v2/queues/q/claims/{claim_id}"),
            "messages": [
                {"id": ids[0], "href": format!("/v2/queues/q/messages/{}?claim_id={claim_id}", ids[0]),
                 "ttl": 3600, "age": 80, "body": {"n": 0}},
                {"id": ids[1], "href": format!("/v2/queues/q/messages/{}?claim_id={claim_id}", ids[1]),
                 "ttl": 3600, "age": 80, "body": {"n": 1}},
            ],
        })
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_of_an_unknown_claim_is_404() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    c.get(&format!("/v2/queues/q/claims/{}", common::new_uuid()))
        .await
        .expect_error(404, "Not found");
    c.get("/v2/queues/q/claims/not-a-claim")
        .await
        .expect_error(404, "Not found");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_messages_are_all_deleted_is_gone() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;
    let (claim_id, _) = c.claim("q", &json!({}), None).await.expect("claim");
    let claim_path = format!("/v2/queues/q/claims/{claim_id}");

    c.delete(&format!(
        "/v2/queues/q/messages/{}?claim_id={claim_id}",
        ids[0]
    ))
    .await
    .expect(204);
    let r = c.get(&claim_path).await;
    r.expect(200);
    assert_eq!(r.message_ids(), vec![ids[1].clone()]);

    c.delete(&format!(
        "/v2/queues/q/messages/{}?claim_id={claim_id}",
        ids[1]
    ))
    .await
    .expect(204);
    c.get(&claim_path).await.expect(404);
    c.patch(&claim_path, &json!({"ttl": 100})).await.expect(404);
    server.shutdown().await;
}

// ---- renew ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewing_resets_the_age_and_sets_the_new_ttl() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;
    let (claim_id, _) = c
        .claim("q", &json!({"ttl": 100, "grace": 60}), None)
        .await
        .expect("claim");
    let path = format!("/v2/queues/q/claims/{claim_id}");
    server.advance(90);
    assert_eq!(c.get(&path).await.body["age"], 90);

    c.patch(&path, &json!({"ttl": 400, "grace": 60}))
        .await
        .expect(204)
        .expect_empty();

    let r = c.get(&path).await;
    r.expect(200);
    assert_eq!((&r.body["age"], &r.body["ttl"]), (&json!(0), &json!(400)));

    // The renewed claim outlives the original TTL.
    server.advance(350);
    let r = c.get(&path).await;
    r.expect(200);
    assert_eq!(r.body["age"], 350);
    assert!(c.claim("q", &json!({}), None).await.is_none());

    server.advance(51);
    c.get(&path).await.expect(404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewing_with_only_a_ttl_or_an_empty_object_uses_defaults() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;
    let (claim_id, _) = c
        .claim("q", &json!({"ttl": 100}), None)
        .await
        .expect("claim");
    let path = format!("/v2/queues/q/claims/{claim_id}");

    c.patch(&path, &json!({"ttl": 200})).await.expect(204);
    assert_eq!(c.get(&path).await.body["ttl"], 200);

    c.patch(&path, &json!({})).await.expect(204);
    assert_eq!(c.get(&path).await.body["ttl"], 300);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewing_an_unknown_or_expired_claim_is_404() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    c.patch(
        &format!("/v2/queues/q/claims/{}", common::new_uuid()),
        &json!({"ttl": 100}),
    )
    .await
    .expect_error(404, "Not found");
    c.patch("/v2/queues/q/claims/garbage", &json!({"ttl": 100}))
        .await
        .expect_error(404, "Not found");

    let (claim_id, _) = c
        .claim("q", &json!({"ttl": 60, "grace": 60}), None)
        .await
        .expect("claim");
    server.advance(61);
    c.patch(
        &format!("/v2/queues/q/claims/{claim_id}"),
        &json!({"ttl": 100}),
    )
    .await
    .expect_error(404, "Not found");
    server.shutdown().await;
}

// ---- release -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_frees_the_messages_at_once() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;
    let (claim_id, _) = c.claim("q", &json!({}), None).await.expect("claim");
    let path = format!("/v2/queues/q/claims/{claim_id}");
    assert!(c.list_ids("q", "echo=true").await.is_empty());

    c.delete(&path).await.expect(204).expect_empty();

    c.get(&path).await.expect(404);
    assert_eq!(c.list_ids("q", "echo=true").await, ids);
    assert_eq!(c.stats("q").await["claimed"], 0);
    let (second, claimed) = c
        .claim("q", &json!({}), None)
        .await
        .expect("claimable again");
    assert_ne!(second, claim_id);
    assert_eq!(claimed.len(), 2);
    // Releasing again, or releasing an unknown claim, is still 204.
    c.delete(&path).await.expect(204);
    c.delete(&format!("/v2/queues/q/claims/{}", common::new_uuid()))
        .await
        .expect(204);
    c.delete("/v2/queues/q/claims/garbage").await.expect(204);
    server.shutdown().await;
}

// ---- message lifetime ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claiming_extends_short_lived_messages_to_claim_ttl_plus_grace() {
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

    let (claim_id, claimed) = c
        .claim("q", &json!({"ttl": 120, "grace": 60}), None)
        .await
        .expect("claim");

    let ttls: Vec<&serde_json::Value> = claimed.iter().map(|m| &m["ttl"]).collect();
    assert_eq!(ttls, vec![&json!(180), &json!(3600)]);
    let short = format!("/v2/queues/q/messages/{}", ids[0]);
    assert_eq!(c.get(&short).await.body["ttl"], 180);

    // The short message outlives its own TTL while claimed...
    server.advance(100);
    let r = c.get(&short).await;
    r.expect(200);
    assert_eq!(
        r.body["href"],
        format!("/v2/queues/q/messages/{}?claim_id={claim_id}", ids[0])
    );
    // ...survives the claim by the grace period, free again...
    server.advance(40);
    let (_, again) = c
        .claim("q", &json!({"ttl": 60, "grace": 60}), Some(1))
        .await
        .expect("claimable after the claim expired");
    assert_eq!(again[0]["id"], ids[0].as_str());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewing_extends_messages_with_the_new_ttl_and_grace() {
    let server = TestServer::start().await;
    let c = server.client();
    let id = c
        .post_messages("q", &[json!({"body": 1, "ttl": 60})])
        .await
        .remove(0);
    let (claim_id, claimed) = c
        .claim("q", &json!({"ttl": 60, "grace": 60}), None)
        .await
        .expect("claim");
    assert_eq!(claimed[0]["ttl"], 120);

    c.patch(
        &format!("/v2/queues/q/claims/{claim_id}"),
        &json!({"ttl": 300, "grace": 90}),
    )
    .await
    .expect(204);

    let r = c.get(&format!("/v2/queues/q/messages/{id}")).await;
    assert_eq!(r.body["ttl"], 390);
    server.advance(380);
    c.get(&format!("/v2/queues/q/messages/{id}"))
        .await
        .expect(200);
    server.shutdown().await;
}

// ---- dead-lettering ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_claimed_too_often_moves_to_the_dead_letter_queue() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "work",
        &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq",
                "_dead_letter_queue_messages_ttl": 120}),
    )
    .await;
    let id = c
        .post_messages("work", &[json!({"body": {"job": 7}, "ttl": 3600})])
        .await
        .remove(0);

    let (claim_id, claimed) = c
        .claim("work", &json!({}), None)
        .await
        .expect("first claim");
    assert_eq!(claimed[0]["id"], id.as_str());
    c.delete(&format!("/v2/queues/work/claims/{claim_id}"))
        .await
        .expect(204);
    server.advance(10);

    // The second claim finds only a message that has used up its claims: it moves.
    let r = c.post("/v2/queues/work/claims", &json!({})).await;
    r.expect(204).expect_empty();

    c.get(&format!("/v2/queues/work/messages/{id}"))
        .await
        .expect(404);
    assert_eq!(
        c.stats("work").await,
        json!({"claimed": 0, "free": 0, "total": 0})
    );

    let moved = c.get(&format!("/v2/queues/dlq/messages/{id}")).await;
    moved.expect(200);
    assert_eq!(moved.body["body"], json!({"job": 7}));
    assert_eq!(moved.body["ttl"], 120);
    assert_eq!(moved.body["href"], format!("/v2/queues/dlq/messages/{id}"));
    c.head("/v2/queues/dlq").await.expect(204);
    assert_eq!(c.list_ids("dlq", "echo=true").await, vec![id.clone()]);
    let dlq_stats = c.stats("dlq").await;
    assert_eq!(
        (&dlq_stats["free"], &dlq_stats["total"]),
        (&json!(1), &json!(1))
    );

    // In the dead-letter queue it is an ordinary, claimable message with the DLQ's TTL.
    let (_, in_dlq) = c
        .claim("dlq", &json!({}), None)
        .await
        .expect("claim in dlq");
    assert_eq!(in_dlq[0]["id"], id.as_str());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettered_messages_expire_with_the_dead_letter_ttl() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "work",
        &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq",
                "_dead_letter_queue_messages_ttl": 120}),
    )
    .await;
    let id = c.post_one("work", json!("doomed")).await;
    let (claim_id, _) = c.claim("work", &json!({}), None).await.expect("claim");
    c.delete(&format!("/v2/queues/work/claims/{claim_id}"))
        .await
        .expect(204);
    assert!(c.claim("work", &json!({}), None).await.is_none());

    server.advance(119);
    c.get(&format!("/v2/queues/dlq/messages/{id}"))
        .await
        .expect(200);
    server.advance(2);
    c.get(&format!("/v2/queues/dlq/messages/{id}"))
        .await
        .expect(404);
    assert!(c.list_ids("dlq", "echo=true").await.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_returns_the_messages_that_did_not_move() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "work",
        &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq"}),
    )
    .await;
    let first = c
        .post_messages("work", &[json!({"body": 1, "ttl": 3600})])
        .await
        .remove(0);
    let (claim_id, _) = c.claim("work", &json!({}), None).await.expect("claim");
    c.delete(&format!("/v2/queues/work/claims/{claim_id}"))
        .await
        .expect(204);
    let second = c.post_one("work", json!(2)).await;

    let (_, claimed) = c
        .claim("work", &json!({}), None)
        .await
        .expect("the fresh message is claimed");

    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0]["id"], second.as_str());
    // Without `_dead_letter_queue_messages_ttl` the moved message keeps its TTL.
    let moved = c.get(&format!("/v2/queues/dlq/messages/{first}")).await;
    moved.expect(200);
    assert_eq!(moved.body["ttl"], 3600);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_claim_count_without_a_dead_letter_queue_has_no_effect() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("work", &json!({"_max_claim_count": 1}))
        .await;
    let id = c.post_one("work", json!(1)).await;

    for _ in 0..3 {
        let (claim_id, claimed) = c.claim("work", &json!({}), None).await.expect("claim");
        assert_eq!(claimed[0]["id"], id.as_str());
        c.delete(&format!("/v2/queues/work/claims/{claim_id}"))
            .await
            .expect(204);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_hand_out_the_same_message_twice() {
    let server = TestServer::start().await;
    let c = server.client();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.extend(c.post_n("q", 20).await);
    }

    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let c = c.other_client();
            tokio::spawn(async move {
                let claim = c.claim("q", &json!({"ttl": 300}), Some(7)).await;
                claim.map(|(_, messages)| {
                    messages
                        .iter()
                        .map(|m| m["id"].as_str().unwrap().to_owned())
                        .collect::<Vec<_>>()
                })
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for t in tasks {
        if let Some(got) = t.await.expect("claimer") {
            claimed.extend(got);
        }
    }

    assert_eq!(claimed.len(), 60, "every message claimed exactly once");
    assert_eq!(common::sorted(claimed), common::sorted(ids));
    assert_eq!(c.stats("q").await["claimed"], 60);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_claim_count_is_the_number_of_claims_a_message_gets() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "work",
        &json!({"_max_claim_count": 2, "_dead_letter_queue": "dlq"}),
    )
    .await;
    let id = c.post_one("work", json!("retry me")).await;

    for attempt in 1..=2 {
        let (claim_id, claimed) = c
            .claim("work", &json!({}), None)
            .await
            .unwrap_or_else(|| panic!("claim {attempt}"));
        assert_eq!(claimed[0]["id"], id.as_str());
        c.delete(&format!("/v2/queues/work/claims/{claim_id}"))
            .await
            .expect(204);
    }
    c.head("/v2/queues/dlq").await.expect(404);

    assert!(c.claim("work", &json!({}), None).await.is_none());
    c.get(&format!("/v2/queues/dlq/messages/{id}"))
        .await
        .expect(200);
    c.head("/v2/queues/dlq").await.expect(204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_claim_counts_towards_max_claim_count() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "work",
        &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq",
                "_dead_letter_queue_messages_ttl": 300}),
    )
    .await;
    let id = c.post_one("work", json!(1)).await;
    c.claim("work", &json!({"ttl": 60}), None)
        .await
        .expect("claim");
    server.advance(61);
    server.sweep().await;

    assert!(c.claim("work", &json!({}), None).await.is_none());
    let moved = c.get(&format!("/v2/queues/dlq/messages/{id}")).await;
    moved.expect(200);
    assert_eq!(moved.body["ttl"], 300);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_documents_drop_unknown_fields_and_renewal_does_not_check_grace() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    let r = c
        .post(
            "/v2/queues/q/claims?limit=",
            &json!({"ttl": 100, "colour": "blue"}),
        )
        .await;
    r.expect(201);
    let path = r.location().to_owned();
    assert_eq!(c.get(&path).await.body["ttl"], 100);

    c.patch(&path, &json!({"ttl": 100, "grace": 0, "colour": "red"}))
        .await
        .expect(204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettered_messages_join_the_end_of_the_dead_letter_queue() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "work",
        &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq"}),
    )
    .await;
    let earlier = c.post_n("dlq", 2).await;
    let moved = c.post_n("work", 2).await;
    let (claim_id, _) = c.claim("work", &json!({}), None).await.expect("claim");
    c.delete(&format!("/v2/queues/work/claims/{claim_id}"))
        .await
        .expect(204);

    // One claim attempt moves both messages.
    assert!(c.claim("work", &json!({}), None).await.is_none());
    let later = c.post_n("dlq", 1).await;

    let mut expected = earlier.clone();
    expected.extend(moved);
    expected.extend(later);
    assert_eq!(c.list_ids("dlq", "echo=true").await, expected);
    let r = c.get("/v2/queues/dlq/messages?echo=true&limit=2").await;
    let next = r.next_link().expect("next");
    assert_eq!(c.get(&next).await.message_ids(), expected[2..4].to_vec());
    assert_eq!(c.stats("dlq").await["total"], 5);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_emptied_by_a_bulk_delete_is_gone() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;
    let (claim_id, _) = c.claim("q", &json!({}), None).await.expect("claim");

    c.delete(&format!("/v2/queues/q/messages?ids={}", ids.join(",")))
        .await
        .expect(204);

    c.get(&format!("/v2/queues/q/claims/{claim_id}"))
        .await
        .expect(404);
    assert_eq!(
        c.stats("q").await,
        json!({"claimed": 0, "free": 0, "total": 0})
    );
    server.shutdown().await;
}
