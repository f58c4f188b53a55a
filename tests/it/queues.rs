//! Queue endpoints: list, create, get, exists, JSON-patch update, delete, stats, purge
//! (reference §2.4, §4).

use crate::common;
use crate::common::{
    default_metadata, metadata_with, Client, TestServer, JSON_PATCH, START_RFC3339,
};
use reqwest::Method;
use serde_json::{json, Value};

fn names(r: &common::Resp) -> Vec<String> {
    r.body["queues"]
        .as_array()
        .unwrap_or_else(|| panic!("no queues in {r:?}"))
        .iter()
        .map(|q| q["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn create_all(c: &Client, queues: &[&str]) {
    for q in queues {
        c.create_queue(q, &json!({})).await;
    }
}

// ---- create / get / exists ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_answers_201_with_location_then_204_and_ignores_the_new_body() {
    let server = TestServer::start().await;
    let c = server.client();

    let created = c
        .put(
            "/v2/queues/orders",
            &json!({"description": "order events", "_default_message_ttl": 600}),
        )
        .await;
    created.expect(201).expect_empty();
    assert_eq!(created.location(), "/v2/queues/orders");

    let again = c
        .put("/v2/queues/orders", &json!({"description": "changed"}))
        .await;
    again.expect(204).expect_empty();

    let r = c.get("/v2/queues/orders").await;
    r.expect(200);
    assert_eq!(
        r.body,
        metadata_with(json!({"description": "order events", "_default_message_ttl": 600}))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_without_a_body_stores_no_metadata() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c.put_empty("/v2/queues/bare").await;
    r.expect(201);
    assert_eq!(r.location(), "/v2/queues/bare");

    let r = c.get("/v2/queues/bare").await;
    r.expect(200);
    assert_eq!(r.body, default_metadata());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_fills_every_reserved_key_and_keeps_free_form_keys() {
    let server = TestServer::start().await;
    let c = server.client();
    let metadata = json!({
        "description": "order events",
        "nested": {"a": [1, 2, {"b": null}]},
        "_default_message_ttl": 600,
        "_max_claim_count": 3,
        "_dead_letter_queue": "orders-dlq",
    });
    c.create_queue("orders", &metadata).await;

    let r = c.get("/v2/queues/orders").await;

    r.expect(200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        r.body,
        json!({
            "description": "order events",
            "nested": {"a": [1, 2, {"b": null}]},
            "_default_message_ttl": 600,
            "_max_messages_post_size": 262144,
            "_default_message_delay": 0,
            "_dead_letter_queue": "orders-dlq",
            "_dead_letter_queue_messages_ttl": null,
            "_max_claim_count": 3,
            "_enable_encrypt_messages": false,
        })
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falsy_reserved_values_are_reported_as_defaults() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "q",
        &json!({"_max_claim_count": 0, "_default_message_delay": 0, "_enable_encrypt_messages": false}),
    )
    .await;

    let r = c.get("/v2/queues/q").await;

    r.expect(200);
    assert_eq!(r.body, default_metadata());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_on_a_missing_queue_answers_200_with_defaults() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c.get("/v2/queues/never-created").await;

    r.expect(200);
    assert_eq!(r.body, default_metadata());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_tells_whether_a_queue_exists() {
    let server = TestServer::start().await;
    let c = server.client();

    c.head("/v2/queues/q").await.expect(404).expect_empty();
    c.create_queue("q", &json!({})).await;
    c.head("/v2/queues/q").await.expect(204).expect_empty();
    c.delete("/v2/queues/q").await.expect(204);
    c.head("/v2/queues/q").await.expect(404);

    // Posting a message creates the queue on the fly.
    c.post_one("lazy", json!(1)).await;
    c.head("/v2/queues/lazy").await.expect(204);
    server.shutdown().await;
}

// ---- list ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_is_sorted_by_name_with_hrefs_and_a_next_link() {
    let server = TestServer::start().await;
    let c = server.client();
    create_all(&c, &["charlie", "alpha", "bravo"]).await;

    let r = c.get("/v2/queues").await;

    r.expect(200);
    assert_eq!(
        r.body["queues"],
        json!([
            {"name": "alpha", "href": "/v2/queues/alpha"},
            {"name": "bravo", "href": "/v2/queues/bravo"},
            {"name": "charlie", "href": "/v2/queues/charlie"},
        ])
    );
    assert!(r.body.get("count").is_none());
    let next = r.next_link().expect("a next link on a non-empty page");
    assert!(next.starts_with("/v2/queues?"), "{next}");
    assert!(next.contains("marker=charlie"), "{next}");

    let last = c.get(&next).await;
    last.expect(200);
    assert_eq!(last.body, json!({"queues": [], "links": []}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_of_an_empty_project_is_empty_without_links() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c.get("/v2/queues").await;

    r.expect(200);
    assert_eq!(r.body, json!({"queues": [], "links": []}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_with_limit_and_marker_until_an_empty_page() {
    let server = TestServer::start().await;
    let c = server.client();
    let all: Vec<String> = (0..12).map(|i| format!("q{i:02}")).collect();
    for q in all.iter().rev() {
        c.create_queue(q, &json!({})).await;
    }

    // Default page size is 10.
    let first = c.get("/v2/queues").await;
    first.expect(200);
    assert_eq!(names(&first), all[..10].to_vec());

    // An explicit marker skips names up to and including it.
    let after = c.get("/v2/queues?marker=q09").await;
    assert_eq!(names(&after), vec!["q10", "q11"]);

    // Following next links with limit=5 visits every queue exactly once, in order.
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = "/v2/queues?limit=5".to_owned();
    loop {
        let r = c.get(&path).await;
        r.expect(200);
        let page = names(&r);
        assert!(page.len() <= 5, "{r:?}");
        if page.is_empty() {
            assert_eq!(r.body["links"], json!([]));
            break;
        }
        pages += 1;
        seen.extend(page);
        path = r.next_link().expect("next link");
        assert!(path.contains("limit=5"), "{path}");
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, all);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detailed_list_includes_metadata_with_reserved_defaults() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue(
        "audit",
        &json!({"owner": "ops", "_default_message_ttl": 120}),
    )
    .await;
    c.create_queue("orders", &json!({})).await;

    let r = c.get("/v2/queues?detailed=true").await;

    r.expect(200);
    assert_eq!(
        r.body["queues"],
        json!([
            {"name": "audit", "href": "/v2/queues/audit",
             "metadata": metadata_with(json!({"owner": "ops", "_default_message_ttl": 120}))},
            {"name": "orders", "href": "/v2/queues/orders", "metadata": default_metadata()},
        ])
    );
    let next = r.next_link().expect("next");
    assert!(next.contains("detailed=true"), "{next}");
    assert!(next.contains("marker=orders"), "{next}");

    let plain = c.get("/v2/queues?detailed=false").await;
    assert!(
        plain.body["queues"][0].get("metadata").is_none(),
        "{plain:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_count_reports_the_projects_total_and_is_omitted_when_zero() {
    let server = TestServer::start().await;
    let c = server.client();

    let empty = c.get("/v2/queues?with_count=true").await;
    empty.expect(200);
    assert!(empty.body.get("count").is_none(), "{empty:?}");

    create_all(&c, &["a", "b", "c", "d", "e"]).await;
    let r = c.get("/v2/queues?with_count=true&limit=2").await;
    r.expect(200);
    assert_eq!(names(&r), vec!["a", "b"]);
    assert_eq!(r.body["count"], 5);
    let next = r.next_link().expect("next");
    assert!(next.contains("with_count=true"), "{next}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_filter_matches_substrings() {
    let server = TestServer::start().await;
    let c = server.client();
    create_all(&c, &["audit", "orders", "reorder-dlq", "shipping"]).await;

    let r = c.get("/v2/queues?name=order").await;
    r.expect(200);
    assert_eq!(names(&r), vec!["orders", "reorder-dlq"]);

    let none = c.get("/v2/queues?name=zzz").await;
    assert_eq!(none.body, json!({"queues": [], "links": []}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_filters_compare_values_with_integer_conversion() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("n31", &json!({"node": 31, "owner": "ops"}))
        .await;
    c.create_queue("n32", &json!({"node": 32, "owner": "ops"}))
        .await;
    c.create_queue("n31-text", &json!({"node": "31"})).await;
    c.create_queue("plain", &json!({})).await;

    let r = c.get("/v2/queues?node=31").await;
    r.expect(200);
    assert_eq!(names(&r), vec!["n31"]);

    let r = c.get("/v2/queues?owner=ops").await;
    assert_eq!(names(&r), vec!["n31", "n32"]);

    let r = c.get("/v2/queues?owner=ops&node=32").await;
    assert_eq!(names(&r), vec!["n32"]);

    let r = c.get("/v2/queues?owner=nobody").await;
    assert_eq!(r.body, json!({"queues": [], "links": []}));
    server.shutdown().await;
}

// ---- PATCH -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_adds_replaces_and_removes_keys_in_order() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"a": 1, "obsolete": true}))
        .await;

    let r = c
        .patch_queue(
            "q",
            &json!([
                {"op": "add", "path": "/metadata/owner", "value": "team-b"},
                {"op": "replace", "path": "/metadata/_default_message_ttl", "value": 900},
                {"op": "remove", "path": "/metadata/obsolete"},
                {"op": "replace", "path": "/metadata/a", "value": {"x": [1]}},
                {"op": "add", "path": "/metadata/owner", "value": "team-c"},
            ]),
        )
        .await;

    r.expect(200);
    let expected = metadata_with(json!({
        "a": {"x": [1]},
        "owner": "team-c",
        "_default_message_ttl": 900,
    }));
    assert_eq!(r.body, expected);
    assert_eq!(c.get("/v2/queues/q").await.body, expected);

    // The new default TTL applies to messages posted from now on.
    let id = c.post_one("q", json!("x")).await;
    let m = c.get(&format!("/v2/queues/q/messages/{id}")).await;
    assert_eq!(m.body["ttl"], 900);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_pointers_are_unescaped() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({})).await;

    let r = c
        .patch_queue(
            "q",
            &json!([{"op": "add", "path": "/metadata/a~1b~0c", "value": 1}]),
        )
        .await;

    r.expect(200);
    assert_eq!(r.body["a/b~c"], 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_replace_or_remove_of_a_missing_free_key_is_a_conflict() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"kept": 1})).await;

    let replace = c
        .patch_queue(
            "q",
            &json!([{"op": "replace", "path": "/metadata/missing", "value": 1}]),
        )
        .await;
    replace.expect_error(409, "Resource conflict");

    let remove = c
        .patch_queue("q", &json!([{"op": "remove", "path": "/metadata/missing"}]))
        .await;
    remove.expect_error(409, "Resource conflict");

    // A failed patch changes nothing, even when earlier operations were valid.
    let partial = c
        .patch_queue(
            "q",
            &json!([
                {"op": "add", "path": "/metadata/new", "value": 1},
                {"op": "remove", "path": "/metadata/missing"},
            ]),
        )
        .await;
    partial.expect(409);
    assert_eq!(
        c.get("/v2/queues/q").await.body,
        metadata_with(json!({"kept": 1}))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_reserved_keys_are_replaceable_and_removable_even_when_unset() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({})).await;

    // What python-zaqarclient sends after reading the defaults back.
    let r = c
        .patch_queue(
            "q",
            &json!([
                {"op": "replace", "path": "/metadata/_max_claim_count", "value": 5},
                {"op": "remove", "path": "/metadata/_dead_letter_queue"},
                {"op": "remove", "path": "/metadata/_default_message_delay"},
            ]),
        )
        .await;

    r.expect(200);
    assert_eq!(r.body, metadata_with(json!({"_max_claim_count": 5})));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_of_a_missing_queue_is_404() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c
        .patch_queue(
            "ghost",
            &json!([{"op": "add", "path": "/metadata/a", "value": 1}]),
        )
        .await;

    r.expect_error(404, "Not found");
    c.head("/v2/queues/ghost").await.expect(404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_requires_the_exact_json_patch_media_type() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({})).await;
    let ops = json!([{"op": "add", "path": "/metadata/a", "value": 1}]).to_string();

    for content_type in [
        "application/json",
        "application/openstack-messaging-v2.0-json-patch; charset=utf-8",
        "text/plain",
    ] {
        let request = c
            .request(Method::PATCH, "/v2/queues/q")
            .header("Content-Type", content_type)
            .body(ops.clone());
        let r = c.send(request).await;
        r.expect(415);
        assert!(r.body["title"].is_string(), "{content_type}: {r:?}");
    }
    let no_type = c
        .send(c.request(Method::PATCH, "/v2/queues/q").body(ops))
        .await;
    no_type.expect(415);

    assert_eq!(c.get("/v2/queues/q").await.body, default_metadata());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_rejects_malformed_documents_with_400() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"a": 1})).await;

    let bad_documents: Vec<Value> = vec![
        json!({"op": "add", "path": "/metadata/a", "value": 2}),
        json!(["not an object"]),
        json!([{"path": "/metadata/a", "value": 2}]),
        json!([{"op": "move", "path": "/metadata/a", "value": 2}]),
        json!([{"op": "add", "value": 2}]),
        json!([{"op": "add", "path": "/metadata/a"}]),
        json!([{"op": "replace", "path": "/metadata/a"}]),
        json!([{"op": "add", "path": "metadata/a", "value": 2}]),
        json!([{"op": "add", "path": "/metadata/", "value": 2}]),
        json!([{"op": "add", "path": "/metadata/a/b", "value": 2}]),
        json!([{"op": "add", "path": "/other/a", "value": 2}]),
        json!([{"op": "add", "path": "/metadata/a~2", "value": 2}]),
    ];
    for doc in bad_documents {
        let r = c.patch_queue("q", &doc).await;
        assert_eq!(r.status, 400, "{doc}: {r:?}");
        r.expect_error(400, "Invalid request body");
    }

    let send = |body: &'static str| {
        let request = c
            .request(Method::PATCH, "/v2/queues/q")
            .header("Content-Type", JSON_PATCH)
            .body(body);
        c.send(request)
    };
    send("").await.expect_error(400, "Invalid request body");
    send("[{").await.expect_error(400, "Invalid request body");

    assert_eq!(
        c.get("/v2/queues/q").await.body,
        metadata_with(json!({"a": 1}))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_validates_reserved_values_like_put() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({})).await;

    for (key, value) in [
        ("_default_message_ttl", json!(59)),
        ("_default_message_ttl", json!("long")),
        ("_max_messages_post_size", json!(262145)),
        ("_default_message_delay", json!(901)),
        ("_dead_letter_queue_messages_ttl", json!(59)),
        ("_enable_encrypt_messages", json!("yes")),
    ] {
        let r = c
            .patch_queue(
                "q",
                &json!([{"op": "add", "path": format!("/metadata/{key}"), "value": value}]),
            )
            .await;
        assert_eq!(r.status, 400, "{key}={value}: {r:?}");
        r.expect_error(400, "Invalid API request");
    }
    assert_eq!(c.get("/v2/queues/q").await.body, default_metadata());
    server.shutdown().await;
}

// ---- delete --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_queue_its_metadata_and_its_messages() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"owner": "ops"})).await;
    let ids = c.post_n("q", 3).await;
    c.claim("q", &json!({}), Some(1)).await.expect("claim");

    c.delete("/v2/queues/q").await.expect(204).expect_empty();

    c.head("/v2/queues/q").await.expect(404);
    assert_eq!(c.get("/v2/queues/q").await.body, default_metadata());
    assert_eq!(c.get("/v2/queues").await.body["queues"], json!([]));
    c.get(&format!("/v2/queues/q/messages/{}", ids[0]))
        .await
        .expect(404);

    // A queue re-created under the same name starts empty.
    c.create_queue("q", &json!({})).await;
    let r = c
        .get("/v2/queues/q/messages?echo=true&include_claimed=true")
        .await;
    assert_eq!(r.body, json!({"messages": [], "links": []}));
    assert_eq!(
        c.stats("q").await,
        json!({"claimed": 0, "free": 0, "total": 0})
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_missing_queue_is_204() {
    let server = TestServer::start().await;
    let c = server.client();

    c.delete("/v2/queues/never")
        .await
        .expect(204)
        .expect_empty();
    server.shutdown().await;
}

// ---- stats ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_of_a_missing_or_empty_queue_are_zero() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c.get("/v2/queues/missing/stats").await;
    r.expect(200);
    assert_eq!(
        r.body,
        json!({"messages": {"claimed": 0, "free": 0, "total": 0}})
    );

    c.create_queue("empty", &json!({})).await;
    assert_eq!(
        c.stats("empty").await,
        json!({"claimed": 0, "free": 0, "total": 0})
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_free_and_claimed_messages_and_show_oldest_and_newest() {
    let server = TestServer::start().await;
    let c = server.client();
    let first = c.post_n("q", 3).await;
    server.advance(10);
    let second = c.post_n("q", 2).await;
    c.claim("q", &json!({"ttl": 300, "grace": 60}), Some(2))
        .await
        .expect("claim");
    server.advance(5);

    let stats = c.stats("q").await;

    assert_eq!(stats["claimed"], 2);
    assert_eq!(stats["free"], 3);
    assert_eq!(stats["total"], 5);
    assert_eq!(
        stats["oldest"],
        json!({"age": 15, "created": START_RFC3339,
               "href": format!("/v2/queues/q/messages/{}", first[0])})
    );
    assert_eq!(
        stats["newest"],
        json!({"age": 5, "created": "2023-11-14T22:13:30Z",
               "href": format!("/v2/queues/q/messages/{}", second[1])})
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_follow_deletes() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 3).await;

    c.delete(&format!("/v2/queues/q/messages/{}", ids[0]))
        .await
        .expect(204);

    let stats = c.stats("q").await;
    assert_eq!(stats["total"], 2);
    assert_eq!(stats["free"], 2);
    assert_eq!(
        stats["oldest"]["href"],
        format!("/v2/queues/q/messages/{}", ids[1])
    );
    server.shutdown().await;
}

// ---- purge ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_the_messages_but_keeps_the_queue() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"owner": "ops"})).await;
    let ids = c.post_n("q", 25).await;

    c.post_empty("/v2/queues/q/purge")
        .await
        .expect(204)
        .expect_empty();

    assert_eq!(
        c.stats("q").await,
        json!({"claimed": 0, "free": 0, "total": 0})
    );
    assert!(c.list_ids("q", "echo=true").await.is_empty());
    c.get(&format!(
        "/v2/queues/q/messages?ids={}",
        ids[..20].join(",")
    ))
    .await
    .expect(404);
    c.head("/v2/queues/q").await.expect(204);
    assert_eq!(
        c.get("/v2/queues/q").await.body,
        metadata_with(json!({"owner": "ops"}))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_honours_resource_types() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 3).await;

    c.post("/v2/queues/q/purge", &json!({"resource_types": []}))
        .await
        .expect(204);
    assert_eq!(c.stats("q").await["total"], 3);

    c.post(
        "/v2/queues/q/purge",
        &json!({"resource_types": ["subscriptions"]}),
    )
    .await
    .expect(204);
    assert_eq!(c.stats("q").await["total"], 3);

    c.post(
        "/v2/queues/q/purge",
        &json!({"resource_types": ["messages"]}),
    )
    .await
    .expect(204);
    assert_eq!(c.stats("q").await["total"], 0);

    c.post(
        "/v2/queues/q/purge",
        &json!({"resource_types": ["messages", "subscriptions"]}),
    )
    .await
    .expect(204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_rejects_unknown_resource_types() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 2).await;

    for body in [
        json!({}),
        json!({"resource_types": ["bogus"]}),
        json!({"resource_types": "messages"}),
    ] {
        let r = c.post("/v2/queues/q/purge", &body).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert!(
            r.body["title"].is_string() && r.body["description"].is_string(),
            "{r:?}"
        );
    }
    assert_eq!(c.stats("q").await["total"], 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_of_a_missing_queue_is_204() {
    let server = TestServer::start().await;
    let c = server.client();

    c.post_empty("/v2/queues/nothing/purge").await.expect(204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_next_links_keep_the_name_and_metadata_filters() {
    let server = TestServer::start().await;
    let c = server.client();
    for q in ["node-a", "node-b", "node-c", "other"] {
        c.create_queue(q, &json!({"node": 31})).await;
    }
    c.create_queue("node-z", &json!({"node": 32})).await;

    let mut seen = Vec::new();
    let mut path = "/v2/queues?name=node&node=31&limit=2".to_owned();
    for _ in 0..5 {
        let r = c.get(&path).await;
        r.expect(200);
        let page = names(&r);
        if page.is_empty() {
            break;
        }
        seen.extend(page);
        path = r.next_link().expect("next");
        assert!(path.contains("name=node"), "{path}");
        assert!(path.contains("node=31"), "{path}");
    }
    assert_eq!(seen, vec!["node-a", "node-b", "node-c"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_head_token_is_case_insensitive_and_unchecked_for_remove() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"kept": 1, "gone": 2})).await;

    let r = c
        .patch_queue(
            "q",
            &json!([
                {"op": "add", "path": "/METADATA/upper", "value": null},
                {"op": "remove", "path": "/anything/gone"},
            ]),
        )
        .await;

    r.expect(200);
    assert_eq!(r.body, metadata_with(json!({"kept": 1, "upper": null})));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_recreated_by_a_post_after_delete_has_no_old_metadata() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_queue("q", &json!({"owner": "ops", "_default_message_ttl": 120}))
        .await;
    c.delete("/v2/queues/q").await.expect(204);

    let id = c.post_one("q", json!(1)).await;

    assert_eq!(c.get("/v2/queues/q").await.body, default_metadata());
    assert_eq!(
        c.get(&format!("/v2/queues/q/messages/{id}")).await.body["ttl"],
        3600
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_queue_ends_its_claims() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 2).await;
    let (claim_id, _) = c.claim("q", &json!({}), None).await.expect("claim");
    let path = format!("/v2/queues/q/claims/{claim_id}");

    c.delete("/v2/queues/q").await.expect(204);

    c.get(&path).await.expect(404);
    c.patch(&path, &json!({"ttl": 100})).await.expect(404);
    c.delete(&path).await.expect(204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_is_answered_with_the_allowed_methods() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c.send(c.request(Method::OPTIONS, "/v2/queues/q")).await;

    r.expect(200);
    let allow = r
        .header("allow")
        .expect("Allow header")
        .to_ascii_uppercase();
    for method in ["GET", "PUT", "PATCH", "DELETE"] {
        assert!(allow.contains(method), "{allow}");
    }
    server.shutdown().await;
}
