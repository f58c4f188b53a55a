//! Message endpoints: post, list, get by ids, get one, delete (singly, in bulk), pop, queue
//! defaults and delayed queues (reference §2.5, §5).

use crate::common;
use crate::common::{sorted, TestServer};
use serde_json::{json, Value};

// ---- post ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_answers_201_with_location_and_resources_in_request_order() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c
        .post(
            "/v2/queues/orders/messages",
            &json!({"messages": [
                {"body": {"event": "order.created", "order_id": 1234}, "ttl": 300},
                {"body": "plain string is fine too"},
                {"body": null, "unknown": "dropped"},
            ]}),
        )
        .await;

    r.expect(201);
    let resources: Vec<String> = r.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(resources.len(), 3);
    let ids: Vec<&str> = resources.iter().map(|h| common::last_segment(h)).collect();
    for (href, id) in resources.iter().zip(&ids) {
        assert_eq!(href, &format!("/v2/queues/orders/messages/{id}"));
    }
    assert_eq!(
        r.location(),
        format!("/v2/queues/orders/messages?ids={}", ids.join(","))
    );
    assert_eq!(r.body.as_object().unwrap().len(), 1, "{r:?}");

    // Listing returns them in posting order, bodies as posted.
    let list = c.get("/v2/queues/orders/messages?echo=true").await;
    list.expect(200);
    assert_eq!(list.message_ids(), ids);
    let bodies: Vec<&Value> = list.messages().iter().map(|m| &m["body"]).collect();
    assert_eq!(
        bodies,
        vec![
            &json!({"event": "order.created", "order_id": 1234}),
            &json!("plain string is fine too"),
            &Value::Null,
        ]
    );
    assert_eq!(list.messages()[0]["ttl"], 300);
    assert_eq!(list.messages()[1]["ttl"], 3600);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_creates_the_queue_on_the_fly() {
    let server = TestServer::start().await;
    let c = server.client();

    c.head("/v2/queues/lazy").await.expect(404);
    c.post_one("lazy", json!([1, 2, 3])).await;

    c.head("/v2/queues/lazy").await.expect(204);
    let r = c.get("/v2/queues").await;
    assert_eq!(
        r.body["queues"],
        json!([{"name": "lazy", "href": "/v2/queues/lazy"}])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_ttl_defaults_to_the_queues_default_message_ttl() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("short", &json!({"_default_message_ttl": 600}))
        .await;

    let ids = c
        .post_messages(
            "short",
            &[json!({"body": 1}), json!({"body": 2, "ttl": 120})],
        )
        .await;
    let plain = c.post_one("plain", json!(3)).await;

    let r = c
        .get(&format!("/v2/queues/short/messages?ids={}", ids.join(",")))
        .await;
    r.expect(200);
    let mut ttls: Vec<(String, i64)> = r
        .messages()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["ttl"].as_i64().unwrap(),
            )
        })
        .collect();
    ttls.sort();
    let mut expected = vec![(ids[0].clone(), 600), (ids[1].clone(), 120)];
    expected.sort();
    assert_eq!(ttls, expected);

    let r = c.get(&format!("/v2/queues/plain/messages/{plain}")).await;
    assert_eq!(r.body["ttl"], 3600);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_max_messages_post_size_caps_the_post_body() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("tiny", &json!({"_max_messages_post_size": 100}))
        .await;

    let small = json!({"messages": [{"body": "ok"}]}).to_string();
    assert!(small.len() <= 100);
    c.send_raw(reqwest::Method::POST, "/v2/queues/tiny/messages", small)
        .await
        .expect(201);

    let big = json!({"messages": [{"body": "x".repeat(100)}]}).to_string();
    let r = c
        .send_raw(reqwest::Method::POST, "/v2/queues/tiny/messages", big)
        .await;
    r.expect_error(400, "Invalid API request");
    assert_eq!(c.stats("tiny").await["total"], 1);

    // Exactly at the cap is accepted.
    let prefix = r#"{"messages": [{"body": ""#;
    let suffix = r#""}]}"#;
    let exact = format!(
        "{prefix}{}{suffix}",
        "y".repeat(100 - prefix.len() - suffix.len())
    );
    assert_eq!(exact.len(), 100);
    c.send_raw(reqwest::Method::POST, "/v2/queues/tiny/messages", exact)
        .await
        .expect(201);
    server.shutdown().await;
}

// ---- get -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_one_returns_the_message_representation() {
    let server = TestServer::start().await;
    let c = server.client();
    let id = c
        .post_messages("q", &[json!({"body": {"k": "v"}, "ttl": 300})])
        .await
        .remove(0);
    server.advance(42);

    let r = c.get(&format!("/v2/queues/q/messages/{id}")).await;

    r.expect(200);
    assert_eq!(
        r.body,
        json!({
            "id": id,
            "href": format!("/v2/queues/q/messages/{id}"),
            "ttl": 300,
            "age": 42,
            "body": {"k": "v"},
        })
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_one_of_an_unknown_message_is_404() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_one("q", json!(1)).await;

    let unknown = common::new_uuid();
    let r = c.get(&format!("/v2/queues/q/messages/{unknown}")).await;
    r.expect_error(404, "Not found");

    c.get("/v2/queues/q/messages/not-an-id")
        .await
        .expect_error(404, "Not found");
    c.get(&format!("/v2/queues/missing/messages/{unknown}"))
        .await
        .expect_error(404, "Not found");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_by_ids_returns_the_existing_ones_and_404_when_none() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 3).await;
    let unknown = common::new_uuid();

    let r = c
        .get(&format!(
            "/v2/queues/q/messages?ids={},{},{unknown},garbage",
            ids[0], ids[2]
        ))
        .await;
    r.expect(200);
    assert!(r.body.get("links").is_none(), "{r:?}");
    assert_eq!(
        sorted(r.message_ids()),
        sorted(vec![ids[0].clone(), ids[2].clone()])
    );
    for m in r.messages() {
        let id = m["id"].as_str().unwrap();
        assert_eq!(m["href"], format!("/v2/queues/q/messages/{id}"));
        assert_eq!(m["ttl"], 3600);
        assert_eq!(m["age"], 0);
        let n = if id == ids[0] { 0 } else { 2 };
        assert_eq!(m["body"], json!({"n": n}));
    }

    // Repeating the parameter works like commas.
    let r = c
        .get(&format!(
            "/v2/queues/q/messages?ids={}&ids={}",
            ids[0], ids[1]
        ))
        .await;
    r.expect(200);
    assert_eq!(r.messages().len(), 2);

    c.get(&format!("/v2/queues/q/messages?ids={unknown}"))
        .await
        .expect_error(404, "Not found");
    c.get("/v2/queues/q/messages?ids=garbage").await.expect(404);
    c.get(&format!("/v2/queues/missing/messages?ids={}", ids[0]))
        .await
        .expect(404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_by_ids_ignores_echo_claims_and_delay() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("delayed", &json!({"_default_message_delay": 60}))
        .await;
    let delayed = c.post_one("delayed", json!("later")).await;
    let claimed = c.post_one("q", json!("mine")).await;
    let (claim_id, _) = c.claim("q", &json!({}), None).await.expect("claim");

    let r = c.get(&format!("/v2/queues/q/messages?ids={claimed}")).await;
    r.expect(200);
    assert_eq!(
        r.messages()[0]["href"],
        format!("/v2/queues/q/messages/{claimed}?claim_id={claim_id}")
    );

    let r = c
        .get(&format!("/v2/queues/delayed/messages/{delayed}"))
        .await;
    r.expect(200);
    assert_eq!(r.body["body"], "later");
    server.shutdown().await;
}

// ---- list ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_hides_the_callers_own_messages_unless_echo() {
    let server = TestServer::start().await;
    let producer = server.client();
    let consumer = producer.other_client();
    let ids = producer.post_n("q", 2).await;

    let own = producer.get("/v2/queues/q/messages").await;
    own.expect(200);
    assert_eq!(own.body, json!({"messages": [], "links": []}));

    assert_eq!(producer.list_ids("q", "echo=true").await, ids);
    assert_eq!(
        producer.list_ids("q", "echo=false").await,
        Vec::<String>::new()
    );
    assert_eq!(consumer.list_ids("q", "").await, ids);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_hides_claimed_messages_unless_include_claimed() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 3).await;
    let (claim_id, _) = c.claim("q", &json!({}), Some(1)).await.expect("claim");

    assert_eq!(c.list_ids("q", "echo=true").await, ids[1..].to_vec());

    let r = c
        .get("/v2/queues/q/messages?echo=true&include_claimed=true")
        .await;
    r.expect(200);
    assert_eq!(r.message_ids(), ids);
    assert_eq!(
        r.messages()[0]["href"],
        format!("/v2/queues/q/messages/{}?claim_id={claim_id}", ids[0])
    );
    assert_eq!(
        r.messages()[1]["href"],
        format!("/v2/queues/q/messages/{}", ids[1])
    );
    let next = r.next_link().expect("next");
    assert!(next.contains("include_claimed=true"), "{next}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_in_posting_order_by_following_next_links() {
    let server = TestServer::start().await;
    let c = server.client();
    let mut ids = c.post_n("q", 15).await;
    ids.extend(c.post_n("q", 10).await);

    // Default page size is 10.
    assert_eq!(c.list_ids("q", "echo=true").await, ids[..10].to_vec());

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut path = "/v2/queues/q/messages?echo=true&limit=10".to_owned();
    loop {
        let r = c.get(&path).await;
        r.expect(200);
        let page = r.message_ids();
        if page.is_empty() {
            assert_eq!(r.body["links"], json!([]));
            break;
        }
        sizes.push(page.len());
        seen.extend(page);
        path = r.next_link().expect("next link on a non-empty page");
        assert!(path.starts_with("/v2/queues/q/messages?"), "{path}");
        for part in ["limit=10", "echo=true", "include_delayed=true", "marker="] {
            assert!(path.contains(part), "{part} missing in {path}");
        }
        assert!(sizes.len() < 10, "paging does not end");
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(seen, ids);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_limit_bounds_the_page() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 25).await;

    assert_eq!(
        c.list_ids("q", "echo=true&limit=1").await,
        ids[..1].to_vec()
    );
    assert_eq!(
        c.list_ids("q", "echo=true&limit=20").await,
        ids[..20].to_vec()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparseable_marker_gives_an_empty_page() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 3).await;

    let r = c.get("/v2/queues/q/messages?echo=true&marker=bogus").await;

    r.expect(200);
    assert_eq!(r.body, json!({"messages": [], "links": []}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_a_missing_queue_is_an_empty_page() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c.get("/v2/queues/missing/messages?echo=true").await;

    r.expect(200);
    assert_eq!(r.body, json!({"messages": [], "links": []}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_reports_age_from_the_clock() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_one("q", json!(1)).await;
    server.advance(30);
    c.post_one("q", json!(2)).await;
    server.advance(12);

    let r = c.get("/v2/queues/q/messages?echo=true").await;

    let ages: Vec<&Value> = r.messages().iter().map(|m| &m["age"]).collect();
    assert_eq!(ages, vec![&json!(42), &json!(12)]);
    server.shutdown().await;
}

// ---- delayed queues ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_queue_hides_messages_from_listing_and_claims_until_due() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("later", &json!({"_default_message_delay": 30}))
        .await;
    let id = c.post_one("later", json!("patience")).await;

    let r = c.get("/v2/queues/later/messages?echo=true").await;
    r.expect(200);
    assert_eq!(r.body, json!({"messages": [], "links": []}));
    assert!(c.claim("later", &json!({}), None).await.is_none());
    c.get(&format!("/v2/queues/later/messages/{id}"))
        .await
        .expect(200);
    let stats = c.stats("later").await;
    assert_eq!((&stats["free"], &stats["total"]), (&json!(1), &json!(1)));

    let r = c
        .get("/v2/queues/later/messages?echo=true&include_delayed=true")
        .await;
    assert_eq!(r.message_ids(), vec![id.clone()]);

    server.advance(29);
    assert!(c.list_ids("later", "echo=true").await.is_empty());

    server.advance(2);
    let r = c.get("/v2/queues/later/messages?echo=true").await;
    assert_eq!(r.message_ids(), vec![id.clone()]);
    let next = r.next_link().expect("next");
    assert!(!next.contains("include_delayed=true"), "{next}");
    let (_, claimed) = c.claim("later", &json!({}), None).await.expect("due now");
    assert_eq!(claimed[0]["id"], id.as_str());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delay_overrides_the_queue_delay() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("later", &json!({"_default_message_delay": 300}))
        .await;
    let ids = c
        .post_messages(
            "later",
            &[
                json!({"body": "now", "delay": 0}),
                json!({"body": "soon", "delay": 10}),
                json!({"body": "default"}),
            ],
        )
        .await;

    assert_eq!(c.list_ids("later", "echo=true").await, ids[..1].to_vec());
    server.advance(11);
    assert_eq!(c.list_ids("later", "echo=true").await, ids[..2].to_vec());
    server.advance(300);
    assert_eq!(c.list_ids("later", "echo=true").await, ids);

    let r = c
        .post(
            "/v2/queues/later/messages",
            &json!({"messages": [{"body": 1, "delay": 901}]}),
        )
        .await;
    r.expect_error(400, "Invalid API request");
    server.shutdown().await;
}

// ---- delete one ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_unclaimed_message_is_204_and_it_is_gone() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;

    c.delete(&format!("/v2/queues/q/messages/{}", ids[0]))
        .await
        .expect(204)
        .expect_empty();

    c.get(&format!("/v2/queues/q/messages/{}", ids[0]))
        .await
        .expect(404);
    assert_eq!(c.list_ids("q", "echo=true").await, ids[1..].to_vec());

    // Deleting again, or something that never existed, is still 204.
    c.delete(&format!("/v2/queues/q/messages/{}", ids[0]))
        .await
        .expect(204);
    c.delete(&format!("/v2/queues/q/messages/{}", common::new_uuid()))
        .await
        .expect(204);
    c.delete("/v2/queues/q/messages/garbage").await.expect(204);
    c.delete(&format!("/v2/queues/missing/messages/{}", ids[1]))
        .await
        .expect(204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_claimed_message_follows_the_claim_rules() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;
    let (claim, _) = c.claim("q", &json!({}), Some(1)).await.expect("claim 1");
    let (other_claim, _) = c.claim("q", &json!({}), Some(1)).await.expect("claim 2");
    let path = format!("/v2/queues/q/messages/{}", ids[0]);

    c.delete(&path).await.expect_error(403, "Unable to delete");
    c.delete(&format!("{path}?claim_id=not-a-claim"))
        .await
        .expect_error(400, "Unable to delete");
    c.delete(&format!("{path}?claim_id={other_claim}"))
        .await
        .expect_error(403, "Unable to delete");
    c.get(&path).await.expect(200);

    c.delete(&format!("{path}?claim_id={claim}"))
        .await
        .expect(204)
        .expect_empty();
    c.get(&path).await.expect(404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_with_a_claim_id_when_the_message_is_not_claimed_is_400() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;
    let (claim, _) = c.claim("q", &json!({}), Some(1)).await.expect("claim");
    let released = format!("/v2/queues/q/messages/{}?claim_id={claim}", ids[0]);
    let never_claimed = format!("/v2/queues/q/messages/{}?claim_id={claim}", ids[1]);

    c.delete(&never_claimed)
        .await
        .expect_error(400, "Unable to delete");

    c.delete(&format!("/v2/queues/q/claims/{claim}"))
        .await
        .expect(204);
    c.delete(&released)
        .await
        .expect_error(400, "Unable to delete");
    assert_eq!(c.list_ids("q", "echo=true").await, ids);
    server.shutdown().await;
}

// ---- bulk delete and pop -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_delete_by_ids_removes_them_even_when_claimed() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 4).await;
    c.claim("q", &json!({}), Some(1)).await.expect("claim");

    let r = c
        .delete(&format!(
            "/v2/queues/q/messages?ids={},{},{}",
            ids[0],
            ids[1],
            common::new_uuid()
        ))
        .await;

    r.expect(204).expect_empty();
    assert_eq!(
        c.list_ids("q", "echo=true&include_claimed=true").await,
        ids[2..].to_vec()
    );
    assert_eq!(c.stats("q").await["claimed"], 0);

    c.delete(&format!("/v2/queues/q/messages?ids={}", common::new_uuid()))
        .await
        .expect(204);
    c.delete(&format!("/v2/queues/missing/messages?ids={}", ids[2]))
        .await
        .expect(204);
    assert_eq!(c.stats("q").await["total"], 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_removes_and_returns_the_oldest_unclaimed_messages() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c
        .post_messages(
            "q",
            &[
                json!({"body": "a", "ttl": 300}),
                json!({"body": "b"}),
                json!({"body": "c"}),
                json!({"body": "d"}),
            ],
        )
        .await;
    c.claim("q", &json!({}), Some(1)).await.expect("claim a");
    server.advance(7);

    let r = c.delete("/v2/queues/q/messages?pop=2").await;

    r.expect(200);
    assert_eq!(
        r.body,
        json!({"messages": [
            {"id": ids[1], "age": 7, "ttl": 3600, "claim_count": 0, "claim_id": null, "body": "b"},
            {"id": ids[2], "age": 7, "ttl": 3600, "claim_count": 0, "claim_id": null, "body": "c"},
        ]})
    );
    assert_eq!(
        c.list_ids("q", "echo=true&include_claimed=true").await,
        vec![ids[0].clone(), ids[3].clone()]
    );

    let r = c.delete("/v2/queues/q/messages?pop=20").await;
    r.expect(200);
    assert_eq!(r.message_ids(), vec![ids[3].clone()]);

    // Only the claimed message is left: nothing to pop.
    let r = c.delete("/v2/queues/q/messages?pop=1").await;
    r.expect(200);
    assert_eq!(r.body, json!({"messages": []}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_on_an_empty_or_missing_queue_is_200_with_no_messages() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("empty", &json!({})).await;

    for queue in ["empty", "missing"] {
        let r = c
            .delete(&format!("/v2/queues/{queue}/messages?pop=5"))
            .await;
        r.expect(200);
        assert_eq!(r.body, json!({"messages": []}));
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_delete_needs_exactly_one_of_ids_and_pop() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 1).await;

    c.delete("/v2/queues/q/messages")
        .await
        .expect_error(400, "Invalid API request");
    c.delete(&format!("/v2/queues/q/messages?ids={}&pop=1", ids[0]))
        .await
        .expect_error(400, "Invalid API request");
    // A blank value counts as absent.
    c.delete("/v2/queues/q/messages?ids=")
        .await
        .expect_error(400, "Invalid API request");
    assert_eq!(c.stats("q").await["total"], 1);
    server.shutdown().await;
}

// ---- bodies, checksums, atomic batches -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_every_json_type_round_trip() {
    let server = TestServer::start().await;
    let c = server.client();
    let bodies = vec![
        json!({"text": "h\u{e9}llo \u{2603} \u{1F600}", "escaped": "quote\" backslash\\ nl\n"}),
        json!([1, -2, 2.5, true, false, null, {"deep": [[]]}]),
        json!("just a string"),
        json!(9_223_372_036_854_775_807_i64),
        json!(-0.125),
        json!(false),
        Value::Null,
        json!({}),
    ];
    let messages: Vec<Value> = bodies.iter().map(|b| json!({"body": b})).collect();

    let ids = c.post_messages("q", &messages).await;

    let r = c.get("/v2/queues/q/messages?echo=true").await;
    let listed: Vec<Value> = r.messages().iter().map(|m| m["body"].clone()).collect();
    assert_eq!(listed, bodies);
    for (id, body) in ids.iter().zip(&bodies) {
        let one = c.get(&format!("/v2/queues/q/messages/{id}")).await;
        assert_eq!(&one.body["body"], body);
        assert!(one.body.get("checksum").is_none(), "{one:?}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_checksums_enabled_messages_report_the_md5_of_pythons_serialisation() {
    let limits = cairn::model::Limits {
        enable_checksum: true,
        ..cairn::model::Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let c = server.client();
    let ids = c
        .post_messages(
            "q",
            &[
                json!({"body": {"event": "order.created", "order_id": 1234}}),
                json!({"body": "a"}),
                json!({"body": {"text": "h\u{e9}llo \u{2603}", "list": [1, 2.5, true, null]}}),
                json!({"body": null}),
            ],
        )
        .await;
    let expected = [
        Some("MD5:349ece7c661dfa531df3159d0555534a"),
        Some("MD5:6067924ae1b1832abce3d12fe83755a9"),
        Some("MD5:2d8735cef6b4e2cc3ba83ff3e362ad5a"),
        None,
    ];

    for (id, checksum) in ids.iter().zip(expected) {
        let r = c.get(&format!("/v2/queues/q/messages/{id}")).await;
        r.expect(200);
        assert_eq!(r.body["checksum"].as_str(), checksum, "{r:?}");
    }
    let r = c.get("/v2/queues/q/messages?echo=true").await;
    let listed: Vec<Option<&str>> = r
        .messages()
        .iter()
        .map(|m| m["checksum"].as_str())
        .collect();
    assert_eq!(listed, expected.to_vec());
    let (_, claimed) = c.claim("q", &json!({}), Some(1)).await.expect("claim");
    assert_eq!(claimed[0]["checksum"].as_str(), expected[0]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_are_each_stored_contiguously_and_in_order() {
    let server = TestServer::start().await;
    let c = server.client();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let c = c.other_client();
            tokio::spawn(async move {
                let messages: Vec<Value> = (0..5)
                    .map(|i| json!({"body": {"task": t, "i": i}}))
                    .collect();
                c.post_messages("q", &messages).await
            })
        })
        .collect();
    let mut batches = Vec::new();
    for t in tasks {
        batches.push(t.await.expect("poster"));
    }

    let mut listed = Vec::new();
    let mut path = "/v2/queues/q/messages?limit=20".to_owned();
    loop {
        let r = c.get(&path).await;
        if r.messages().is_empty() {
            break;
        }
        listed.extend(r.message_ids());
        path = r.next_link().expect("next");
    }
    assert_eq!(listed.len(), 40);
    for batch in &batches {
        let start = listed
            .iter()
            .position(|id| id == &batch[0])
            .expect("batch listed");
        assert_eq!(&listed[start..start + 5], batch.as_slice());
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_next_link_returns_messages_posted_later() {
    let server = TestServer::start().await;
    let c = server.client();
    let first = c.post_n("q", 3).await;
    let r = c.get("/v2/queues/q/messages?echo=true").await;
    assert_eq!(r.message_ids(), first);
    let next = r.next_link().expect("next");
    assert!(c.get(&next).await.message_ids().is_empty());

    let later = c.post_n("q", 2).await;

    assert_eq!(c.get(&next).await.message_ids(), later);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_ids_parameter_means_a_listing() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 2).await;

    let r = c.get("/v2/queues/q/messages?ids=&echo=true").await;

    r.expect(200);
    assert_eq!(r.message_ids(), ids);
    assert!(r.body["links"].is_array(), "{r:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_leaves_messages_that_are_not_yet_due() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("later", &json!({"_default_message_delay": 60}))
        .await;
    let id = c.post_one("later", json!(1)).await;

    let r = c.delete("/v2/queues/later/messages?pop=5").await;
    r.expect(200);
    assert_eq!(r.body, json!({"messages": []}));

    server.advance(61);
    let r = c.delete("/v2/queues/later/messages?pop=5").await;
    assert_eq!(r.message_ids(), vec![id]);
    server.shutdown().await;
}

// ---- long polling --------------------------------------------------------------------------

/// A waiting listing or claim answers as soon as a message is posted: within this bound of
/// the post (the aim is under 50 ms; the bound is generous for a loaded host).
const WOKEN_WITHIN: std::time::Duration = std::time::Duration::from_millis(1000);

/// Sends `request` (a long poll on queue `polled`), checks that it waits, posts one message,
/// and answers the response, how long after the post it came, and the message's id.
async fn woken_by_a_post(
    c: &common::Client,
    request: impl std::future::Future<Output = common::Resp> + Send + 'static,
) -> (common::Resp, std::time::Duration, String) {
    let waiting = tokio::spawn(async move { (request.await, std::time::Instant::now()) });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a request that finds nothing with wait=10 waits"
    );
    let posted_at = std::time::Instant::now();
    let id = c.post_one("polled", json!({"n": 1})).await;
    let (r, answered_at) = waiting.await.expect("the waiting request");
    let woken = answered_at.saturating_duration_since(posted_at);
    assert!(woken < WOKEN_WITHIN, "woken {woken:?} after the post");
    (r, woken, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_listing_answers_when_a_message_is_posted() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("polled", &json!({})).await;
    let lister = c.clone();
    let request = async move {
        lister
            .get("/v2/queues/polled/messages?wait=10&echo=true")
            .await
    };
    let (r, woken, id) = woken_by_a_post(&c, request).await;
    r.expect(200);
    assert_eq!(r.message_ids(), vec![id]);
    println!("long polling: the listing answered {woken:?} after the post");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_claim_takes_the_message_posted_while_it_waits() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("polled", &json!({})).await;
    let claimer = c.clone();
    let request = async move {
        let body = json!({"ttl": 60});
        claimer
            .post("/v2/queues/polled/claims?wait=10", &body)
            .await
    };
    let (r, _, id) = woken_by_a_post(&c, request).await;
    r.expect(201);
    assert_eq!(r.message_ids(), vec![id]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_ends_empty_at_its_deadline_and_is_bounded() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("quiet", &json!({})).await;
    // A post to another queue does not end the wait.
    let other = c.clone();
    let noise = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        other.post_one("elsewhere", json!({"n": 0})).await
    });
    let started = std::time::Instant::now();
    let listed = c.get("/v2/queues/quiet/messages?wait=1&echo=true").await;
    let waited = started.elapsed();
    assert_eq!(
        listed.status,
        c.get("/v2/queues/quiet/messages").await.status
    );
    assert!(
        listed.body.is_null() || listed.messages().is_empty(),
        "{listed:?}"
    );
    assert!(
        waited >= std::time::Duration::from_millis(900),
        "waited {waited:?}"
    );
    let started = std::time::Instant::now();
    let claim = c.post("/v2/queues/quiet/claims?wait=1", &json!({})).await;
    claim.expect(204);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    noise.await.expect("the other post");
    for bad in ["21", "-1", "x"] {
        let path = format!("/v2/queues/quiet/messages?wait={bad}");
        c.get(&path).await.expect(400);
        let path = format!("/v2/queues/quiet/claims?wait={bad}");
        c.post(&path, &json!({})).await.expect(400);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_ends_the_waits_at_once() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("polled", &json!({})).await;
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move { c.get("/v2/queues/polled/messages?wait=20").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    server.shutdown().await;
    let stopped = started.elapsed();
    let answered = waiting.await.expect("the waiting request");
    assert!(
        answered.status == 200 || answered.status == 204,
        "{answered:?}"
    );
    assert!(
        stopped < std::time::Duration::from_secs(5),
        "the shutdown took {stopped:?}: it waited for the long poll's deadline"
    );
}
