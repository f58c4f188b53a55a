//! The WebSocket API (reference §7) over real sockets: every action, the envelope, the
//! validation order, frame limits, server push (§6.7, §7.9), tenancy, many concurrent
//! connections and slow consumers. Each protocol test runs once per codec: JSON in text
//! frames and MessagePack in binary frames.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::ws::{envelope, Codec, Frame, WsClient};
use crate::common::{new_uuid, Client, TestServer};
use cairn::model::Limits;
use cairn::transports::websocket::WsSettings;
use serde_json::{json, Value};

/// Instantiates each `async fn name(codec: Codec)` as `json::name` and `msgpack::name`.
macro_rules! per_codec {
    ($($name:ident),* $(,)?) => {
        mod json {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Codec::Json).await
                }
            )*
        }
        mod msgpack {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Codec::MsgPack).await
                }
            )*
        }
    };
}

per_codec!(
    authenticate_is_answered,
    responses_echo_the_request,
    queue_actions,
    stats_of_a_missing_queue_are_404_with_zero_counts,
    message_actions,
    message_get_many_never_answers_404,
    message_delete_many_by_ids_and_pop,
    claim_actions,
    a_delete_naming_an_expired_claim_is_400,
    subscription_actions,
    push_subscription_actions,
    a_duplicate_subscription_is_409,
    a_forbidden_address_in_any_spelling_is_400,
    a_push_subscription_needs_only_a_queue_name,
    node_actions,
    pool_and_flavor_actions_answer_404_outside_admin_mode,
    undecodable_frames_are_400_with_a_null_echo,
    non_object_frames_are_400,
    unknown_actions_are_400,
    malformed_envelopes_are_schema_errors,
    missing_headers_are_schema_errors,
    a_client_id_that_is_not_a_uuid_is_400,
    missing_body_fields_are_schema_errors,
    out_of_range_values_are_400,
    an_oversized_frame_is_400_and_the_connection_stays_usable,
    a_post_is_measured_as_its_compact_message_list,
    posted_messages_are_pushed_to_a_subscribed_connection,
    closing_the_connection_removes_its_push_subscription,
    each_frame_acts_in_the_project_it_names,
    another_project_never_sees_queues_or_pushes,
);

/// A server with default limits and a connection in a fresh project.
async fn start(codec: Codec) -> (TestServer, WsClient) {
    let server = TestServer::start().await;
    let ws = WsClient::open(&server, codec).await;
    (server, ws)
}

/// A REST client of the same project as `ws`.
fn rest_of(server: &TestServer, ws: &WsClient) -> Client {
    Client::new(&server.base, &new_uuid(), &ws.project)
}

fn ids_of(r: &common::ws::WsResp) -> Vec<String> {
    r.body["message_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no message_ids in {r:?}"))
        .iter()
        .map(|id| id.as_str().expect("an id").to_owned())
        .collect()
}

/// Posts messages over the connection, asserting 201; returns the ids.
async fn post(ws: &mut WsClient, queue: &str, messages: Value) -> Vec<String> {
    let r = ws
        .send(
            "message_post",
            json!({"queue_name": queue, "messages": messages}),
        )
        .await;
    r.expect(201);
    ids_of(&r)
}

/// The keys of an object, sorted.
fn keys(doc: &Value) -> Vec<String> {
    let mut keys: Vec<String> = doc
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {doc}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

// ---- envelope and simple actions -----------------------------------------------------------

async fn authenticate_is_answered(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let mut headers = ws.headers();
    headers["X-Auth-Token"] = json!("a-token");

    let r = ws
        .send_with_headers("authenticate", headers, json!({}))
        .await;

    r.expect(200);
    assert_eq!(r.body, json!({"message": "Authentified."}));
    assert_eq!(r.request["action"], "authenticate");
    assert_eq!(r.request["api"], "v2");
    ws.send("queue_list", json!({})).await.expect(200);
    server.shutdown().await;
}

async fn responses_echo_the_request(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let mut headers = ws.headers();
    headers["User-Agent"] = json!("cairn-tests");
    let body = json!({"queue_name": "orders", "metadata": {"k": [1, 2]}});

    let r = ws
        .send_with_headers("queue_create", headers.clone(), body.clone())
        .await;

    r.expect(201);
    assert_eq!(keys(&r.raw), ["body", "headers", "request"]);
    assert!(r.raw["headers"]["status"].is_u64(), "{r:?}");
    assert_eq!(
        r.request,
        json!({"action": "queue_create", "body": body, "headers": headers, "api": "v2"})
    );
    assert_eq!(r.body, "Queue orders created.");

    // A request without a body echoes an empty one.
    let r = ws
        .request(&json!({"action": "queue_list", "headers": ws.headers()}))
        .await;
    r.expect(200);
    assert_eq!(
        r.request,
        json!({"action": "queue_list", "body": {}, "headers": ws.headers(), "api": "v2"})
    );
    assert_eq!(r.raw["headers"], json!({"status": 200}));
    server.shutdown().await;
}

async fn queue_actions(codec: Codec) {
    let (server, mut ws) = start(codec).await;

    let r = ws.send("queue_create", json!({"queue_name": "beta"})).await;
    r.expect(201);
    assert_eq!(r.body, "Queue beta created.");
    let again = ws
        .send(
            "queue_create",
            json!({"queue_name": "beta", "metadata": {"x": 1}}),
        )
        .await;
    again.expect(204);
    assert_eq!(again.body, "Queue beta created.");
    let metadata = json!({"owner": "ops", "_default_message_ttl": 120, "nested": {"a": [true]}});
    ws.send(
        "queue_create",
        json!({"queue_name": "alpha", "metadata": metadata}),
    )
    .await
    .expect(201);

    // queue_get: the stored metadata, without reserved defaults; `{}` for a missing queue.
    let r = ws.send("queue_get", json!({"queue_name": "alpha"})).await;
    r.expect(200);
    assert_eq!(r.body, metadata);
    let r = ws.send("queue_get", json!({"queue_name": "beta"})).await;
    assert_eq!((r.status, &r.body), (200, &json!({})));
    let r = ws.send("queue_get", json!({"queue_name": "nowhere"})).await;
    assert_eq!((r.status, &r.body), (200, &json!({})));

    let r = ws.send("queue_list", json!({})).await;
    r.expect(200);
    assert_eq!(
        r.body,
        json!({"queues": [{"name": "alpha"}, {"name": "beta"}]})
    );
    let r = ws.send("queue_list", json!({"detailed": true})).await;
    assert_eq!(
        r.body,
        json!({"queues": [{"name": "alpha", "metadata": metadata},
                          {"name": "beta", "metadata": {}}]})
    );
    let r = ws.send("queue_list", json!({"limit": 1})).await;
    assert_eq!(r.body, json!({"queues": [{"name": "alpha"}]}));
    let r = ws
        .send("queue_list", json!({"limit": 5, "marker": "alpha"}))
        .await;
    assert_eq!(r.body, json!({"queues": [{"name": "beta"}]}));

    // Stats carry the oldest and newest message by id.
    let ids = post(
        &mut ws,
        "alpha",
        json!([{"body": 1}, {"body": 2}, {"body": 3}]),
    )
    .await;
    server.advance(5);
    let r = ws
        .send("queue_get_stats", json!({"queue_name": "alpha"}))
        .await;
    r.expect(200);
    let stats = &r.body["messages"];
    assert_eq!(
        (&stats["free"], &stats["claimed"], &stats["total"]),
        (&json!(3), &json!(0), &json!(3))
    );
    assert_eq!(stats["oldest"]["id"], ids[0].as_str());
    assert_eq!(stats["newest"]["id"], ids[2].as_str());
    assert_eq!(stats["oldest"]["age"], 5);
    assert_eq!(stats["oldest"]["created"], common::START_RFC3339);
    assert!(stats["oldest"].get("href").is_none(), "{r:?}");

    let r = ws.send("queue_purge", json!({"queue_name": "alpha"})).await;
    r.expect(204);
    assert_eq!(r.body, json!({}));
    let r = ws
        .send("queue_get_stats", json!({"queue_name": "alpha"}))
        .await;
    r.expect(200);
    assert_eq!(
        r.body,
        json!({"messages": {"claimed": 0, "free": 0, "total": 0}})
    );
    let r = ws
        .send(
            "queue_purge",
            json!({"queue_name": "alpha", "resource_types": ["messages"]}),
        )
        .await;
    r.expect(204);

    let r = ws
        .send("queue_delete", json!({"queue_name": "alpha"}))
        .await;
    r.expect(204);
    assert_eq!(r.body, "Queue alpha removed.");
    let r = ws.send("queue_list", json!({})).await;
    assert_eq!(r.body, json!({"queues": [{"name": "beta"}]}));
    let r = ws
        .send("queue_delete", json!({"queue_name": "alpha"}))
        .await;
    r.expect(204);
    assert_eq!(r.body, "Queue alpha removed.");
    server.shutdown().await;
}

async fn stats_of_a_missing_queue_are_404_with_zero_counts(codec: Codec) {
    let (server, mut ws) = start(codec).await;

    let r = ws
        .send("queue_get_stats", json!({"queue_name": "ghost"}))
        .await;

    r.expect(404);
    assert_eq!(
        r.body,
        json!({"messages": {"claimed": 0, "free": 0, "total": 0}})
    );
    server.shutdown().await;
}

async fn message_actions(codec: Codec) {
    let (server, mut ws) = start(codec).await;

    // Posting creates the queue; ids come back in request order.
    let ids = post(
        &mut ws,
        "q",
        json!([{"body": {"n": 1}, "ttl": 300}, {"body": "two"}, {"body": [3]}]),
    )
    .await;
    assert_eq!(ids.len(), 3);
    let r = ws.send("queue_list", json!({})).await;
    assert_eq!(r.body, json!({"queues": [{"name": "q"}]}));
    server.advance(7);

    // Listing hides the caller's own messages unless echo.
    let r = ws.send("message_list", json!({"queue_name": "q"})).await;
    r.expect(200);
    assert_eq!(r.body, json!({"messages": []}));
    let r = ws
        .send("message_list", json!({"queue_name": "q", "echo": true}))
        .await;
    r.expect(200);
    assert_eq!(keys(&r.body), ["messages"]);
    assert_eq!(r.message_ids(), ids);
    assert_eq!(
        r.messages()[0],
        json!({"id": ids[0], "claim_id": null, "ttl": 300, "age": 7, "body": {"n": 1}})
    );
    assert_eq!(r.messages()[1]["ttl"], 3600);
    let r = ws
        .send(
            "message_list",
            json!({"queue_name": "q", "echo": true, "limit": 2}),
        )
        .await;
    assert_eq!(r.message_ids(), ids[..2].to_vec());
    let r = ws
        .send(
            "message_list",
            json!({"queue_name": "q", "echo": true, "marker": "nonsense"}),
        )
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({"messages": []})));

    // Another client of the project sees them without echo.
    let mut other = WsClient::connect(&server, codec, &new_uuid(), &ws.project).await;
    let r = other.send("message_list", json!({"queue_name": "q"})).await;
    assert_eq!(r.message_ids(), ids);

    // message_get: the one message under the plural key.
    let r = ws
        .send(
            "message_get",
            json!({"queue_name": "q", "message_id": ids[1]}),
        )
        .await;
    r.expect(200);
    assert_eq!(
        r.body,
        json!({"messages": {"id": ids[1], "claim_id": null, "ttl": 3600, "age": 7, "body": "two"}})
    );
    let missing = "0123456789abcdef01234567";
    ws.send(
        "message_get",
        json!({"queue_name": "q", "message_id": missing}),
    )
    .await
    .expect_error(404);
    ws.send(
        "message_get",
        json!({"queue_name": "nowhere", "message_id": ids[0]}),
    )
    .await
    .expect_error(404);

    // message_delete: 204 {}, then gone; deleting again is still 204.
    for _ in 0..2 {
        let r = ws
            .send(
                "message_delete",
                json!({"queue_name": "q", "message_id": ids[0]}),
            )
            .await;
        r.expect(204);
        assert_eq!(r.body, json!({}));
    }
    ws.send(
        "message_get",
        json!({"queue_name": "q", "message_id": ids[0]}),
    )
    .await
    .expect(404);
    let r = ws
        .send("message_list", json!({"queue_name": "q", "echo": true}))
        .await;
    assert_eq!(r.message_ids(), ids[1..].to_vec());
    server.shutdown().await;
}

async fn message_get_many_never_answers_404(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let ids = post(&mut ws, "q", json!([{"body": 1}, {"body": 2}])).await;
    let missing = "0123456789abcdef01234567".to_owned();

    let r = ws
        .send(
            "message_get_many",
            json!({"queue_name": "q", "message_ids": [ids[1], missing, ids[0]]}),
        )
        .await;
    r.expect(200);
    assert_eq!(keys(&r.body), ["messages"]);
    assert_eq!(common::sorted(r.message_ids()), common::sorted(ids.clone()));
    for m in r.messages() {
        assert_eq!(keys(m), ["age", "body", "claim_id", "id", "ttl"]);
    }

    for body in [
        json!({"queue_name": "q", "message_ids": [missing]}),
        json!({"queue_name": "q", "message_ids": ["not-an-id"]}),
        json!({"queue_name": "nowhere", "message_ids": [ids[0]]}),
    ] {
        let r = ws.send("message_get_many", body).await;
        assert_eq!(
            (r.status, &r.body),
            (200, &json!({"messages": []})),
            "{r:?}"
        );
    }
    server.shutdown().await;
}

async fn message_delete_many_by_ids_and_pop(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let ids = post(
        &mut ws,
        "q",
        json!([{"body": 0}, {"body": 1}, {"body": 2}, {"body": 3}, {"body": 4}]),
    )
    .await;

    // By ids: 204 {}, claimed or not.
    let r = ws
        .send("claim_create", json!({"queue_name": "q", "limit": 1}))
        .await;
    r.expect(201);
    let r = ws
        .send(
            "message_delete_many",
            json!({"queue_name": "q", "message_ids": [ids[0], ids[1]]}),
        )
        .await;
    r.expect(204);
    assert_eq!(r.body, json!({}));
    let r = ws
        .send(
            "message_list",
            json!({"queue_name": "q", "echo": true, "include_claimed": true}),
        )
        .await;
    assert_eq!(r.message_ids(), ids[2..].to_vec());

    // Pop: 200 with the removed messages in the raw storage shape.
    server.advance(3);
    let r = ws
        .send("message_delete_many", json!({"queue_name": "q", "pop": 2}))
        .await;
    r.expect(200);
    assert_eq!(keys(&r.body), ["messages"]);
    assert_eq!(r.message_ids(), ids[2..4].to_vec());
    let popped = &r.messages()[0];
    assert_eq!(popped["body"], 2);
    assert_eq!(popped["age"], 3);
    assert_eq!(popped["ttl"], 3600);
    assert_eq!(popped["claim_id"], Value::Null);
    assert!(popped.get("claim_count").is_some(), "{r:?}");

    let r = ws
        .send("message_list", json!({"queue_name": "q", "echo": true}))
        .await;
    assert_eq!(r.message_ids(), ids[4..].to_vec());
    let r = ws
        .send("message_delete_many", json!({"queue_name": "q", "pop": 5}))
        .await;
    assert_eq!(r.message_ids(), ids[4..].to_vec());
    let r = ws
        .send("message_delete_many", json!({"queue_name": "q", "pop": 5}))
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({"messages": []})));
    server.shutdown().await;
}

/// An expired claim's id deletes nothing: its message is free again, and may be someone
/// else's by now.
async fn a_delete_naming_an_expired_claim_is_400(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let ids = post(&mut ws, "q", json!([{"body": "a", "ttl": 3600}])).await;
    let r = ws
        .send(
            "claim_create",
            json!({"queue_name": "q", "ttl": 60, "grace": 60}),
        )
        .await;
    r.expect(201);
    let claim_id = r.body["claim_id"].as_str().expect("claim_id").to_owned();
    server.advance(61);
    ws.send(
        "message_delete",
        json!({"queue_name": "q", "message_id": ids[0], "claim_id": claim_id}),
    )
    .await
    .expect_error(400);
    let r = ws
        .send("message_list", json!({"queue_name": "q", "echo": true}))
        .await;
    assert_eq!(r.message_ids(), ids);
    server.shutdown().await;
}

async fn claim_actions(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let ids = post(
        &mut ws,
        "q",
        json!([{"body": "a", "ttl": 3600}, {"body": "b", "ttl": 3600}, {"body": "c", "ttl": 3600}]),
    )
    .await;

    let r = ws
        .send(
            "claim_create",
            json!({"queue_name": "q", "limit": 2, "ttl": 120, "grace": 60}),
        )
        .await;
    r.expect(201);
    assert_eq!(keys(&r.body), ["claim_id", "messages"]);
    let claim_id = r.body["claim_id"].as_str().expect("claim_id").to_owned();
    assert_eq!(r.message_ids(), ids[..2].to_vec());
    assert_eq!(
        r.messages()[0],
        json!({"id": ids[0], "claim_id": claim_id, "ttl": 3600, "age": 0, "body": "a"})
    );

    // Claimed messages are hidden from listings and carry no claim_id outside claims.
    let r = ws
        .send("message_list", json!({"queue_name": "q", "echo": true}))
        .await;
    assert_eq!(r.message_ids(), ids[2..].to_vec());
    let r = ws
        .send(
            "message_list",
            json!({"queue_name": "q", "echo": true, "include_claimed": true}),
        )
        .await;
    assert_eq!(r.message_ids(), ids);
    assert!(
        r.messages().iter().all(|m| m["claim_id"].is_null()),
        "{r:?}"
    );

    server.advance(10);
    let r = ws
        .send(
            "claim_get",
            json!({"queue_name": "q", "claim_id": claim_id}),
        )
        .await;
    r.expect(200);
    assert_eq!(keys(&r.body), ["age", "messages", "ttl"]);
    assert_eq!((&r.body["age"], &r.body["ttl"]), (&json!(10), &json!(120)));
    assert_eq!(r.message_ids(), ids[..2].to_vec());
    assert_eq!(r.messages()[1]["claim_id"], claim_id.as_str());

    let r = ws
        .send(
            "claim_update",
            json!({"queue_name": "q", "claim_id": claim_id, "ttl": 300, "grace": 30}),
        )
        .await;
    r.expect(204);
    assert_eq!(r.body, format!("Claim {claim_id} updated."));
    let r = ws
        .send(
            "claim_get",
            json!({"queue_name": "q", "claim_id": claim_id}),
        )
        .await;
    assert_eq!((&r.body["age"], &r.body["ttl"]), (&json!(0), &json!(300)));

    // Deleting a claimed message needs its claim.
    ws.send(
        "message_delete",
        json!({"queue_name": "q", "message_id": ids[0]}),
    )
    .await
    .expect_error(403);
    ws.send(
        "message_delete",
        json!({"queue_name": "q", "message_id": ids[0], "claim_id": "not-a-claim"}),
    )
    .await
    .expect_error(400);
    let r = ws
        .send(
            "message_delete",
            json!({"queue_name": "q", "message_id": ids[0], "claim_id": claim_id}),
        )
        .await;
    r.expect(204);

    // The rest is claimed by another claim; then nothing is left to claim.
    let r = ws.send("claim_create", json!({"queue_name": "q"})).await;
    r.expect(201);
    assert_eq!(r.message_ids(), ids[2..].to_vec());
    let r = ws.send("claim_create", json!({"queue_name": "q"})).await;
    r.expect(204);
    assert_eq!(r.body, json!({"claim_id": null}));

    let r = ws
        .send(
            "claim_delete",
            json!({"queue_name": "q", "claim_id": claim_id}),
        )
        .await;
    r.expect(204);
    assert_eq!(r.body, format!("Claim {claim_id} deleted."));
    ws.send(
        "claim_get",
        json!({"queue_name": "q", "claim_id": claim_id}),
    )
    .await
    .expect_error(404);
    ws.send(
        "claim_update",
        json!({"queue_name": "q", "claim_id": claim_id, "ttl": 100}),
    )
    .await
    .expect_error(404);
    let r = ws
        .send("message_list", json!({"queue_name": "q", "echo": true}))
        .await;
    assert_eq!(r.message_ids(), vec![ids[1].clone()]);
    server.shutdown().await;
}

async fn subscription_actions(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    ws.send("queue_create", json!({"queue_name": "q"}))
        .await
        .expect(201);

    let r = ws
        .send(
            "subscription_create",
            json!({"queue_name": "q", "subscriber": "http://example.com/hook", "ttl": 600,
                   "options": {"k": "v"}}),
        )
        .await;
    r.expect(201);
    assert_eq!(keys(&r.body), ["message", "subscription_id"]);
    assert_eq!(r.body["message"], "Subscription q created.");
    let sid = r.body["subscription_id"].as_str().expect("id").to_owned();

    ws.send(
        "subscription_create",
        json!({"queue_name": "q", "subscriber": "gopher://example.com"}),
    )
    .await
    .expect_error(400);
    ws.send(
        "subscription_create",
        json!({"queue_name": "q", "subscriber": "http://example.com/x", "ttl": 59}),
    )
    .await
    .expect_error(400);

    server.advance(4);
    let r = ws
        .send(
            "subscription_get",
            json!({"queue_name": "q", "subscription_id": sid}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["id"], sid.as_str());
    assert_eq!(r.body["source"], "q");
    assert_eq!(r.body["subscriber"], "http://example.com/hook");
    assert_eq!(r.body["ttl"], 600);
    assert_eq!(r.body["age"], 4);
    assert_eq!(r.body["options"], json!({"k": "v"}));

    let r = ws
        .send("subscription_list", json!({"queue_name": "q"}))
        .await;
    r.expect(200);
    assert_eq!(keys(&r.body), ["subscriptions"]);
    let listed = r.body["subscriptions"].as_array().expect("subscriptions");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], sid.as_str());

    let r = ws
        .send(
            "subscription_delete",
            json!({"queue_name": "q", "subscription_id": sid}),
        )
        .await;
    r.expect(204);
    assert_eq!(r.body, format!("Subscription {sid} removed."));
    ws.send(
        "subscription_get",
        json!({"queue_name": "q", "subscription_id": sid}),
    )
    .await
    .expect_error(404);
    let r = ws
        .send("subscription_list", json!({"queue_name": "q"}))
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({"subscriptions": []})));
    server.shutdown().await;
}

/// Reference §7.8: a duplicate `subscription_create` answers 409 with a string body (the
/// WebSocket API has no "unconfirmed duplicate" case).
async fn a_duplicate_subscription_is_409(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let body = json!({"queue_name": "q", "subscriber": "http://example.com/hook", "ttl": 600});
    let r = ws.send("subscription_create", body.clone()).await;
    r.expect(201);
    let sid = r.body["subscription_id"].clone();

    let r = ws.send("subscription_create", body).await;

    assert_eq!(
        (r.status, &r.body),
        (409, &json!("Subscription q not created.")),
        "first id {sid}: {r:?}"
    );
    let r = ws
        .send("subscription_list", json!({"queue_name": "q"}))
        .await;
    assert_eq!(r.body["subscriptions"].as_array().map(Vec::len), Some(1));
    server.shutdown().await;
}

/// The SSRF guard reads a subscriber's host as the URL standard does: an address in any
/// spelling, or a loopback name, is refused when the subscription is created.
async fn a_forbidden_address_in_any_spelling_is_400(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    for subscriber in [
        "http://2852039166/",
        "http://0251.0376.0251.0376/",
        "http://0xa9fea9fe/",
        "http://0/",
        "http://127.1/",
        "http://localhost./",
    ] {
        let body = json!({"queue_name": "q", "subscriber": subscriber, "ttl": 600});
        ws.send("subscription_create", body).await.expect_error(400);
    }
    let r = ws
        .send("subscription_list", json!({"queue_name": "q"}))
        .await;
    assert_eq!(r.body["subscriptions"], json!([]));
    server.shutdown().await;
}

/// Reference §7.8: `ttl` and `options` are optional in `subscription_create`; without a
/// subscriber this is a push subscription with the default TTL.
async fn a_push_subscription_needs_only_a_queue_name(codec: Codec) {
    let (server, mut ws) = start(codec).await;

    let r = ws
        .send("subscription_create", json!({"queue_name": "q"}))
        .await;

    r.expect(201);
    let sid = r.body["subscription_id"].as_str().expect("id").to_owned();
    let r = ws
        .send(
            "subscription_get",
            json!({"queue_name": "q", "subscription_id": sid}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["ttl"], 3600);
    let rest = rest_of(&server, &ws);
    rest.post_one("q", json!("hello")).await;
    assert_eq!(
        ws.recv_push().await,
        notification("q", json!("hello"), 3600)
    );
    server.shutdown().await;
}

async fn push_subscription_actions(codec: Codec) {
    let (server, mut ws) = start(codec).await;

    // Without a subscriber: a push subscription to this connection.
    let r = ws
        .send(
            "subscription_create",
            json!({"queue_name": "q", "ttl": 3600}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.body["message"], "Subscription q created.");
    let sid = r.body["subscription_id"].as_str().expect("id").to_owned();

    // With ttl and options, on another queue.
    let r = ws
        .send(
            "subscription_create",
            json!({"queue_name": "other", "ttl": 120, "options": {"a": 1}}),
        )
        .await;
    r.expect(201);

    // It is an ordinary subscription of the queue.
    let r = ws
        .send(
            "subscription_get",
            json!({"queue_name": "q", "subscription_id": sid}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["id"], sid.as_str());
    let r = ws
        .send("subscription_list", json!({"queue_name": "q"}))
        .await;
    assert_eq!(r.body["subscriptions"].as_array().map(Vec::len), Some(1));
    let r = ws
        .send("subscription_list", json!({"queue_name": "other"}))
        .await;
    let listed = &r.body["subscriptions"][0];
    assert_eq!(
        (&listed["ttl"], &listed["options"]),
        (&json!(120), &json!({"a": 1}))
    );

    // A second push subscription of the same connection to the same queue is a duplicate.
    let r = ws
        .send(
            "subscription_create",
            json!({"queue_name": "q", "ttl": 600}),
        )
        .await;
    r.expect(409);
    assert_eq!(r.body, "Subscription q not created.");
    ws.send(
        "subscription_create",
        json!({"queue_name": "q3", "ttl": 59}),
    )
    .await
    .expect_error(400);
    server.shutdown().await;
}

async fn node_actions(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    post(&mut ws, "q", json!([{"body": 1}, {"body": 2}])).await;
    ws.send("claim_create", json!({"queue_name": "q", "limit": 1}))
        .await
        .expect(201);

    let r = ws.send("ping_node", json!({})).await;
    r.expect(204);

    let r = ws.send("check_node_health", json!({})).await;
    r.expect(200);
    assert_eq!(r.body["storage_reachable"], true);
    assert_eq!(
        r.body["message_volume"],
        json!({"free": 1, "claimed": 1, "total": 2})
    );

    let r = ws.send("get_home_doc", json!({})).await;
    r.expect(200);
    assert!(r.body.is_object() && !keys(&r.body).is_empty(), "{r:?}");
    server.shutdown().await;
}

/// As the REST routes, the admin actions exist only with `--admin-mode` (`pools.rs` tests
/// them in it).
async fn pool_and_flavor_actions_answer_404_outside_admin_mode(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let actions = [
        ("pool_list", json!({})),
        (
            "pool_create",
            json!({"pool_name": "p", "weight": 1, "uri": "sqlite://x"}),
        ),
        ("pool_update", json!({"pool_name": "p", "weight": 2})),
        ("pool_get", json!({"pool_name": "p"})),
        ("pool_delete", json!({"pool_name": "p"})),
        ("flavor_list", json!({})),
        (
            "flavor_create",
            json!({"flavor_name": "f", "pool_name": "p"}),
        ),
        ("flavor_update", json!({"flavor_name": "f"})),
        ("flavor_get", json!({"flavor_name": "f"})),
        ("flavor_delete", json!({"flavor_name": "f"})),
    ];
    for (action, body) in actions {
        let r = ws.send(action, body).await;
        r.expect_error(404);
        assert_eq!(r.request["action"], action);
    }
    ws.send("ping_node", json!({})).await.expect(204);
    server.shutdown().await;
}

// ---- errors --------------------------------------------------------------------------------

fn null_echo() -> Value {
    json!({"action": null, "body": {}, "headers": {}, "api": "v2"})
}

async fn undecodable_frames_are_400_with_a_null_echo(codec: Codec) {
    let (server, mut ws) = start(codec).await;

    ws.send_frame(codec.garbage()).await;
    let r = ws.recv_response().await;

    r.expect_error(400);
    let prefix = match codec {
        Codec::Json => "Can't decode text (JSON) request.",
        Codec::MsgPack => "Can't decode binary (MessagePack) request.",
    };
    assert!(r.error().starts_with(prefix), "{r:?}");
    assert_eq!(r.request, null_echo());
    ws.send("queue_list", json!({})).await.expect(200);
    server.shutdown().await;
}

async fn non_object_frames_are_400(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    for doc in [json!([1, 2]), json!("queue_list"), json!(7), json!(null)] {
        let r = ws.request(&doc).await;
        r.expect_error_text(400, "Unexpected body type. Expected dict or dict like.");
        assert_eq!(r.request, null_echo());
    }
    ws.send("queue_list", json!({})).await.expect(200);
    server.shutdown().await;
}

async fn unknown_actions_are_400(codec: Codec) {
    let (server, mut ws) = start(codec).await;

    let r = ws.send("frobnicate", json!({})).await;
    r.expect_error_text(400, "frobnicate is not a valid action");

    // Before the headers are checked.
    let r = ws
        .request(&envelope("queue_nuke", json!({}), json!({})))
        .await;
    r.expect_error_text(400, "queue_nuke is not a valid action");
    ws.send("queue_list", json!({})).await.expect(200);
    server.shutdown().await;
}

async fn malformed_envelopes_are_schema_errors(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let client_id = ws.client_id.clone();
    let project = ws.project.clone();
    let body = json!({"queue_name": "q"});

    let frames = [
        json!({"action": "queue_get", "body": body}),
        json!({"action": "queue_get", "headers": "Client-ID", "body": body}),
        json!({"headers": ws.headers(), "body": body}),
        json!({"action": "queue_get", "headers": ws.headers(), "body": "q"}),
        envelope(
            "queue_get",
            json!({"Client-ID": 5, "X-Project-ID": project}),
            body.clone(),
        ),
        envelope(
            "queue_get",
            json!({"Client-ID": client_id, "X-Project-ID": ["p"]}),
            body.clone(),
        ),
    ];
    for frame in frames {
        let r = ws.request(&frame).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "Schema validation failed."),
            "frame {frame}: {r:?}"
        );
    }
    ws.send("queue_get", body).await.expect(200);
    server.shutdown().await;
}

/// Reference §7.2–7.3: `Client-ID` and `X-Project-ID` are required by every action's
/// schema, so a frame without them fails schema validation.
async fn missing_headers_are_schema_errors(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let client_id = ws.client_id.clone();
    let project = ws.project.clone();
    let body = json!({"queue_name": "q"});

    let frames = [
        envelope("queue_get", json!({}), body.clone()),
        envelope("queue_get", json!({"Client-ID": client_id}), body.clone()),
        envelope("queue_get", json!({"X-Project-ID": project}), body.clone()),
        envelope(
            "message_list",
            json!({"X-Project-ID": project}),
            body.clone(),
        ),
    ];
    for frame in frames {
        let r = ws.request(&frame).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "Schema validation failed."),
            "frame {frame}: {r:?}"
        );
    }
    ws.send("queue_get", body).await.expect(200);
    server.shutdown().await;
}

async fn a_client_id_that_is_not_a_uuid_is_400(codec: Codec) {
    let server = TestServer::start().await;
    let mut ws = WsClient::connect(&server, codec, "not-a-uuid-at-all", "p").await;

    let r = ws.send("message_list", json!({"queue_name": "q"})).await;
    r.expect_error(400);
    let r = ws
        .send(
            "message_post",
            json!({"queue_name": "q", "messages": [{"body": 1}]}),
        )
        .await;
    r.expect_error(400);

    // The same connection may still introduce itself properly.
    ws.client_id = new_uuid();
    ws.send("message_list", json!({"queue_name": "q"}))
        .await
        .expect(200);
    server.shutdown().await;
}

async fn missing_body_fields_are_schema_errors(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let id = "0123456789abcdef01234567";
    let frames = [
        ("queue_create", json!({})),
        ("queue_create", json!({"queue_name": 5})),
        ("queue_get", json!({})),
        ("queue_delete", json!({})),
        ("queue_get_stats", json!({})),
        ("queue_purge", json!({})),
        ("message_list", json!({})),
        ("message_get", json!({"message_id": id})),
        ("message_get", json!({"queue_name": "q"})),
        ("message_get_many", json!({"message_ids": [id]})),
        ("message_get_many", json!({"queue_name": "q"})),
        ("message_post", json!({"messages": [{"body": 1}]})),
        ("message_post", json!({"queue_name": "q"})),
        ("message_delete", json!({"message_id": id})),
        ("message_delete", json!({"queue_name": "q"})),
        ("message_delete_many", json!({"pop": 1})),
        ("claim_create", json!({})),
        ("claim_get", json!({"claim_id": id})),
        ("claim_get", json!({"queue_name": "q"})),
        ("claim_update", json!({"queue_name": "q", "ttl": 100})),
        ("claim_delete", json!({"queue_name": "q"})),
        ("subscription_create", json!({"subscriber": "http://x"})),
        ("subscription_get", json!({"queue_name": "q"})),
        ("subscription_list", json!({})),
        ("subscription_delete", json!({"queue_name": "q"})),
    ];
    for (action, body) in frames {
        let r = ws.send(action, body.clone()).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "Schema validation failed."),
            "{action} {body}: {r:?}"
        );
        assert_eq!(r.request["action"], action);
    }
    server.shutdown().await;
}

async fn out_of_range_values_are_400(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let ids = post(&mut ws, "q", json!([{"body": 1}])).await;
    let r = ws.send("claim_create", json!({"queue_name": "q"})).await;
    let claim_id = r.body["claim_id"].as_str().expect("a claim").to_owned();
    let many: Vec<String> = (0..21).map(|_| ids[0].clone()).collect();

    let frames = [
        ("queue_list", json!({"limit": 0})),
        ("queue_list", json!({"limit": 21})),
        ("queue_create", json!({"queue_name": "bad name!"})),
        ("queue_create", json!({"queue_name": "x".repeat(65)})),
        (
            "queue_create",
            json!({"queue_name": "q2", "metadata": {"_default_message_ttl": 59}}),
        ),
        (
            "queue_create",
            json!({"queue_name": "q2", "metadata": {"_default_message_delay": 901}}),
        ),
        ("message_list", json!({"queue_name": "q", "limit": 0})),
        ("message_list", json!({"queue_name": "q", "limit": 21})),
        (
            "message_post",
            json!({"queue_name": "q", "messages": [{"body": 1, "ttl": 59}]}),
        ),
        (
            "message_post",
            json!({"queue_name": "q", "messages": [{"body": 1, "ttl": 1_209_601}]}),
        ),
        (
            "message_post",
            json!({"queue_name": "q", "messages": [{"ttl": 100}]}),
        ),
        ("message_post", json!({"queue_name": "q", "messages": []})),
        (
            "message_get_many",
            json!({"queue_name": "q", "message_ids": many}),
        ),
        ("message_delete_many", json!({"queue_name": "q", "pop": 0})),
        ("message_delete_many", json!({"queue_name": "q", "pop": 21})),
        (
            "message_delete_many",
            json!({"queue_name": "q", "message_ids": many}),
        ),
        (
            "message_delete_many",
            json!({"queue_name": "q", "message_ids": [ids[0]], "pop": 1}),
        ),
        ("message_delete_many", json!({"queue_name": "q"})),
        ("claim_create", json!({"queue_name": "q", "ttl": 59})),
        ("claim_create", json!({"queue_name": "q", "ttl": 43201})),
        ("claim_create", json!({"queue_name": "q", "grace": 43201})),
        ("claim_create", json!({"queue_name": "q", "limit": 0})),
        ("claim_create", json!({"queue_name": "q", "limit": 21})),
        (
            "claim_update",
            json!({"queue_name": "q", "claim_id": claim_id, "ttl": 59}),
        ),
        ("subscription_list", json!({"queue_name": "q", "limit": 0})),
    ];
    for (action, body) in frames {
        let r = ws.send(action, body.clone()).await;
        assert_eq!(r.status, 400, "{action} {body}: {r:?}");
        assert!(!r.error().is_empty(), "{action} {body}: {r:?}");
    }

    // Nothing changed.
    let r = ws
        .send(
            "message_list",
            json!({"queue_name": "q", "echo": true, "include_claimed": true}),
        )
        .await;
    assert_eq!(r.message_ids(), ids);
    let r = ws.send("queue_list", json!({})).await;
    assert_eq!(r.body, json!({"queues": [{"name": "q"}]}));
    server.shutdown().await;
}

async fn an_oversized_frame_is_400_and_the_connection_stays_usable(codec: Codec) {
    let websocket = WsSettings {
        max_frame: 4096,
        ..WsSettings::default()
    };
    let server = TestServer::with_settings(Limits::default(), websocket).await;
    let mut ws = WsClient::open(&server, codec).await;

    let big = "x".repeat(8192);
    let r = ws
        .send(
            "message_post",
            json!({"queue_name": "q", "messages": [{"body": big}]}),
        )
        .await;
    r.expect_error(400);
    assert_eq!(r.request, null_echo());

    // A raw oversized frame of the other kind, too.
    let raw = match codec {
        Codec::Json => {
            ws.send_text(&" ".repeat(5000)).await;
            ws.recv_response().await
        }
        Codec::MsgPack => {
            ws.send_binary(vec![0x90; 5000]).await;
            ws.recv_response().await
        }
    };
    raw.expect_error(400);

    // Just under the limit is fine, and the connection carries on.
    let body = "y".repeat(3500);
    let ids = post(&mut ws, "q", json!([{"body": body}])).await;
    let r = ws
        .send("message_list", json!({"queue_name": "q", "echo": true}))
        .await;
    r.expect(200);
    assert_eq!(r.message_ids(), ids);
    server.shutdown().await;
}

/// A post's size is the length of its `messages` list as compact JSON, checked against the
/// queue's cap; posts many times larger than one read of the connection arrive whole.
async fn a_post_is_measured_as_its_compact_message_list(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let messages = |body: &str| json!([{"body": {"text": body, "quote": "\"é\""}, "ttl": 300}]);
    let cap = messages(&"a".repeat(200_000)).to_string().len();
    let r = ws
        .send(
            "queue_create",
            json!({"queue_name": "big", "metadata": {"_max_messages_post_size": cap}}),
        )
        .await;
    r.expect(201);

    let over = ws
        .send(
            "message_post",
            json!({"queue_name": "big", "messages": messages(&"b".repeat(200_001))}),
        )
        .await;
    over.expect_error(400);
    assert!(over.error().contains("too large"), "{over:?}");

    let text = "c".repeat(200_000);
    let ids = post(&mut ws, "big", messages(&text)).await;
    let r = ws
        .send(
            "message_get",
            json!({"queue_name": "big", "message_id": ids[0]}),
        )
        .await;
    r.expect(200);
    assert!(
        r.body["messages"]["body"]["text"] == json!(text),
        "the body came back altered"
    );
    server.shutdown().await;
}

// ---- push ----------------------------------------------------------------------------------

fn notification(queue: &str, body: Value, ttl: i64) -> Value {
    json!({"body": body, "ttl": ttl, "queue_name": queue, "Message_Type": "Notification"})
}

async fn posted_messages_are_pushed_to_a_subscribed_connection(codec: Codec) {
    let (server, mut subscriber) = start(codec).await;
    let r = subscriber
        .send(
            "subscription_create",
            json!({"queue_name": "orders", "ttl": 3600}),
        )
        .await;
    r.expect(201);

    // A REST client of the same project posts a batch.
    let rest = rest_of(&server, &subscriber);
    rest.post_messages(
        "orders",
        &[
            json!({"body": {"event": "created"}, "ttl": 300}),
            json!({"body": [1, 2]}),
        ],
    )
    .await;
    // Another WebSocket client (JSON) posts one more.
    let mut producer =
        WsClient::connect(&server, Codec::Json, &new_uuid(), &subscriber.project).await;
    post(
        &mut producer,
        "orders",
        json!([{"body": "third", "ttl": 600}]),
    )
    .await;
    // Other queues are not pushed.
    post(&mut producer, "elsewhere", json!([{"body": "no"}])).await;

    let expected = [
        notification("orders", json!({"event": "created"}), 300),
        notification("orders", json!([1, 2]), 3600),
        notification("orders", json!("third"), 600),
    ];
    for want in &expected {
        let (frame_codec, doc) = subscriber.recv_push_frame().await;
        assert_eq!(&doc, want);
        assert_eq!(
            frame_codec, codec,
            "push frames follow the subscription's codec"
        );
    }
    subscriber.expect_no_push(Duration::from_millis(300)).await;

    // The subscriber's own posts are pushed too, interleaved with its responses.
    let ids = post(&mut subscriber, "orders", json!([{"body": "mine"}])).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        subscriber.recv_push().await,
        notification("orders", json!("mine"), 3600)
    );
    // The connection still answers requests.
    let r = subscriber
        .send("queue_get_stats", json!({"queue_name": "orders"}))
        .await;
    assert_eq!(r.body["messages"]["total"], 4);

    // Once the subscription is deleted, nothing more is pushed.
    let listed = subscriber
        .send("subscription_list", json!({"queue_name": "orders"}))
        .await;
    let sid = listed.body["subscriptions"][0]["id"]
        .as_str()
        .expect("the push subscription")
        .to_owned();
    subscriber
        .send(
            "subscription_delete",
            json!({"queue_name": "orders", "subscription_id": sid}),
        )
        .await
        .expect(204);
    rest.post_messages("orders", &[json!({"body": "after"})])
        .await;
    subscriber.expect_no_push(Duration::from_millis(300)).await;
    server.shutdown().await;
}

async fn closing_the_connection_removes_its_push_subscription(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    let rest = rest_of(&server, &ws);
    ws.send(
        "subscription_create",
        json!({"queue_name": "q", "ttl": 600}),
    )
    .await
    .expect(201);
    ws.send(
        "subscription_create",
        json!({"queue_name": "q2", "ttl": 600}),
    )
    .await
    .expect(201);
    rest.post(
        "/v2/queues/q/subscriptions",
        &json!({"subscriber": "http://example.com/keep", "ttl": 600}),
    )
    .await
    .expect(201);
    let count = |r: &common::Resp| r.body["subscriptions"].as_array().map_or(0, Vec::len);
    assert_eq!(count(&rest.get("/v2/queues/q/subscriptions").await), 2);

    ws.close().await;

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let q = rest.get("/v2/queues/q/subscriptions").await;
        let q2 = rest.get("/v2/queues/q2/subscriptions").await;
        if count(&q) == 1 && count(&q2) == 0 {
            assert_eq!(
                q.body["subscriptions"][0]["subscriber"],
                "http://example.com/keep"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the push subscriptions outlive their connection: {q:?} {q2:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

/// Push frames use the codec of the latest successful push subscription of the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_frames_follow_the_latest_subscription_codec() {
    let server = TestServer::start().await;
    let mut ws = WsClient::open(&server, Codec::Json).await;
    let rest = Client::new(&server.base, &new_uuid(), &ws.project);
    ws.send(
        "subscription_create",
        json!({"queue_name": "a", "ttl": 600}),
    )
    .await
    .expect(201);
    rest.post_one("a", json!(1)).await;
    assert_eq!(ws.recv_push_frame().await.0, Codec::Json);

    ws.codec = Codec::MsgPack;
    ws.send(
        "subscription_create",
        json!({"queue_name": "b", "ttl": 600}),
    )
    .await
    .expect(201);
    rest.post_one("a", json!(2)).await;
    rest.post_one("b", json!(3)).await;
    assert_eq!(
        ws.recv_push_frame().await,
        (Codec::MsgPack, notification("a", json!(2), 3600))
    );
    assert_eq!(
        ws.recv_push_frame().await,
        (Codec::MsgPack, notification("b", json!(3), 3600))
    );
    server.shutdown().await;
}

/// A push subscription only sees messages posted after it exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_posted_before_subscribing_are_not_pushed() {
    let server = TestServer::start().await;
    let mut ws = WsClient::open(&server, Codec::Json).await;
    let rest = Client::new(&server.base, &new_uuid(), &ws.project);
    rest.post_n("q", 3).await;

    ws.send(
        "subscription_create",
        json!({"queue_name": "q", "ttl": 600}),
    )
    .await
    .expect(201);
    ws.expect_no_push(Duration::from_millis(300)).await;
    rest.post_one("q", json!("new")).await;

    assert_eq!(ws.recv_push().await, notification("q", json!("new"), 3600));
    ws.expect_no_push(Duration::from_millis(200)).await;
    server.shutdown().await;
}

// ---- tenancy -------------------------------------------------------------------------------

/// Without authentication each frame names its own project (as in Zaqar): a frame for
/// another project acts there, and only there.
async fn each_frame_acts_in_the_project_it_names(codec: Codec) {
    let (server, mut ws) = start(codec).await;
    ws.send("queue_create", json!({"queue_name": "mine"}))
        .await
        .expect(201);

    let other_project = json!({"Client-ID": ws.client_id, "X-Project-ID": "project-b"});
    let r = ws
        .send_with_headers("queue_list", other_project.clone(), json!({}))
        .await;
    r.expect(200);
    assert_eq!(r.body, json!({"queues": []}));
    ws.send_with_headers(
        "message_post",
        other_project.clone(),
        json!({"queue_name": "mine", "messages": [{"body": "for b"}]}),
    )
    .await
    .expect(201);

    // Project b got its own queue "mine"; the connection's first project is untouched.
    let rest_b = Client::new(&server.base, &new_uuid(), "project-b");
    let r = rest_b.get("/v2/queues/mine/messages?echo=true").await;
    assert_eq!(r.messages().len(), 1);
    let r = ws.send("queue_list", json!({})).await;
    assert_eq!(r.body, json!({"queues": [{"name": "mine"}]}));
    let r = ws
        .send("message_list", json!({"queue_name": "mine", "echo": true}))
        .await;
    assert_eq!(r.body, json!({"messages": []}));
    server.shutdown().await;
}

async fn another_project_never_sees_queues_or_pushes(codec: Codec) {
    let server = TestServer::start().await;
    let mut a = WsClient::open(&server, codec).await;
    let mut b = WsClient::open(&server, codec).await;
    b.send(
        "subscription_create",
        json!({"queue_name": "shared-name", "ttl": 600}),
    )
    .await
    .expect(201);

    a.send("queue_create", json!({"queue_name": "a-only"}))
        .await
        .expect(201);
    let ids = post(&mut a, "shared-name", json!([{"body": "secret"}])).await;
    let rest_a = Client::new(&server.base, &new_uuid(), &a.project);
    rest_a.post_one("shared-name", json!("secret too")).await;
    let r = a
        .send(
            "claim_create",
            json!({"queue_name": "shared-name", "limit": 1}),
        )
        .await;
    let claim_id = r.body["claim_id"].as_str().expect("a claim").to_owned();

    b.expect_no_push(Duration::from_millis(400)).await;
    let r = b.send("queue_list", json!({"detailed": true})).await;
    assert_eq!(
        r.body,
        json!({"queues": [{"name": "shared-name", "metadata": {}}]})
    );
    let r = b
        .send(
            "message_list",
            json!({"queue_name": "shared-name", "echo": true, "include_claimed": true}),
        )
        .await;
    assert_eq!(r.body, json!({"messages": []}));
    b.send(
        "message_get",
        json!({"queue_name": "shared-name", "message_id": ids[0]}),
    )
    .await
    .expect(404);
    let r = b
        .send(
            "message_get_many",
            json!({"queue_name": "shared-name", "message_ids": ids}),
        )
        .await;
    assert_eq!(r.body, json!({"messages": []}));
    b.send(
        "claim_get",
        json!({"queue_name": "shared-name", "claim_id": claim_id}),
    )
    .await
    .expect(404);
    b.send("queue_get_stats", json!({"queue_name": "a-only"}))
        .await
        .expect(404);
    let r = b
        .send("claim_create", json!({"queue_name": "shared-name"}))
        .await;
    r.expect(204);

    // B's subscription works for B's own messages.
    post(&mut b, "shared-name", json!([{"body": "b's"}])).await;
    assert_eq!(
        b.recv_push().await,
        notification("shared-name", json!("b's"), 3600)
    );

    // A still has everything.
    let r = a
        .send(
            "message_list",
            json!({"queue_name": "shared-name", "echo": true, "include_claimed": true}),
        )
        .await;
    assert_eq!(r.messages().len(), 2);
    server.shutdown().await;
}

// ---- load ----------------------------------------------------------------------------------

/// 300 connections at once, in 10 projects, each doing a full round of work on its own
/// queue and one claim on its project's shared queue; every answer is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_connections_get_correct_answers() {
    const CONNECTIONS: usize = 300;
    const PROJECTS: usize = 10;
    let started = Instant::now();
    let server = Arc::new(TestServer::start().await);
    let projects: Vec<String> = (0..PROJECTS).map(|p| format!("load-{p}")).collect();
    // Each project's shared queue holds one message per connection of the project.
    for project in &projects {
        let rest = Client::new(&server.base, &new_uuid(), project);
        let per_project = CONNECTIONS / PROJECTS;
        let messages: Vec<Value> = (0..per_project).map(|i| json!({"body": i})).collect();
        rest.post_messages("shared", &messages[..per_project / 2])
            .await;
        rest.post_messages("shared", &messages[per_project / 2..])
            .await;
    }

    let mut tasks = Vec::new();
    for i in 0..CONNECTIONS {
        let server = server.clone();
        let project = projects[i % PROJECTS].clone();
        tasks.push(tokio::spawn(async move {
            let codec = Codec::ALL[i % 2];
            let mut ws = WsClient::connect(&server, codec, &new_uuid(), &project).await;
            let queue = format!("own-{i}");
            let r = ws.send("queue_create", json!({"queue_name": queue})).await;
            r.expect(201);
            let ids = post(
                &mut ws,
                &queue,
                json!([{"body": {"i": i, "n": 0}}, {"body": {"i": i, "n": 1}}, {"body": {"i": i, "n": 2}}]),
            )
            .await;
            let r = ws
                .send("message_list", json!({"queue_name": queue, "echo": true}))
                .await;
            r.expect(200);
            assert_eq!(r.message_ids(), ids);
            assert_eq!(r.messages()[2]["body"], json!({"i": i, "n": 2}));
            let r = ws
                .send("claim_create", json!({"queue_name": queue, "limit": 2}))
                .await;
            r.expect(201);
            assert_eq!(r.message_ids(), ids[..2].to_vec());
            let claim_id = r.body["claim_id"].as_str().expect("claim").to_owned();
            ws.send(
                "message_delete",
                json!({"queue_name": queue, "message_id": ids[0], "claim_id": claim_id}),
            )
            .await
            .expect(204);
            let r = ws.send("queue_get_stats", json!({"queue_name": queue})).await;
            r.expect(200);
            assert_eq!(
                (
                    &r.body["messages"]["free"],
                    &r.body["messages"]["claimed"],
                    &r.body["messages"]["total"]
                ),
                (&json!(1), &json!(1), &json!(2))
            );
            let r = ws
                .send("claim_create", json!({"queue_name": "shared", "limit": 1}))
                .await;
            r.expect(201);
            let mut shared = r.message_ids();
            assert_eq!(shared.len(), 1);
            ws.send("queue_delete", json!({"queue_name": queue}))
                .await
                .expect(204);
            let r = ws.send("queue_get_stats", json!({"queue_name": queue})).await;
            r.expect(404);
            ws.close().await;
            (project, shared.remove(0))
        }));
    }
    let mut claimed = std::collections::HashSet::new();
    for task in tasks {
        let (project, id) = task.await.expect("a connection's work succeeds");
        assert!(
            claimed.insert((project, id)),
            "a shared message was claimed twice"
        );
    }
    assert_eq!(claimed.len(), CONNECTIONS);
    // Every shared message was claimed exactly once: nothing is left to claim.
    for project in &projects {
        let rest = Client::new(&server.base, &new_uuid(), project);
        assert!(rest.claim("shared", &json!({}), None).await.is_none());
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    if let Ok(server) = Arc::try_unwrap(server) {
        server.shutdown().await;
    }
}

/// A subscriber that never reads is cut off once its bounded send queue is full, instead of
/// being buffered without limit: its push subscription goes away while it still has not read
/// a byte, and when it finally reads, the connection ends after a bounded number of frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_disconnected() {
    let limits = Limits {
        max_messages_post_size: 1 << 20,
        ..Limits::default()
    };
    let websocket = WsSettings {
        send_queue: 4,
        ..WsSettings::default()
    };
    let server = TestServer::with_settings(limits, websocket).await;
    let project = format!("project-{}", new_uuid());
    let mut slow =
        WsClient::connect_with_buffer(&server, Codec::Json, &new_uuid(), &project, Some(4096))
            .await;
    slow.send(
        "subscription_create",
        json!({"queue_name": "firehose", "ttl": 600}),
    )
    .await
    .expect(201);
    let rest = Client::new(&server.base, &new_uuid(), &project);
    let subscriptions = |r: &common::Resp| r.body["subscriptions"].as_array().map_or(0, Vec::len);

    // ~1 MB notifications: the socket buffers fill after a few, then the send queue.
    let big = "z".repeat(1_000_000);
    let started = Instant::now();
    let mut posted = 0;
    let mut cut_off = false;
    while posted < 40 && started.elapsed() < Duration::from_secs(20) {
        rest.post_messages("firehose", &[json!({"body": big})])
            .await;
        posted += 1;
        let r = rest.get("/v2/queues/firehose/subscriptions").await;
        if subscriptions(&r) == 0 {
            cut_off = true;
            break;
        }
    }
    if !cut_off {
        // The last posts may still be on their way to the session: wait a little.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let r = rest.get("/v2/queues/firehose/subscriptions").await;
            if subscriptions(&r) == 0 {
                cut_off = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(
        cut_off,
        "after {posted} notifications of 1 MB to a client that never reads, its push \
         subscription is still there"
    );

    // Now read: what was buffered arrives, then the connection ends.
    let (received, end) = slow
        .wait_end(Duration::from_secs(10))
        .await
        .expect("the connection ends within 10 s once the client reads");
    assert!(
        received < posted,
        "the client got all {posted} notifications: it was never cut off ({end:?})"
    );
    match end {
        Frame::Close(Some((code, _))) => assert_eq!(code, 1008, "{end:?}"),
        Frame::Close(None) | Frame::Ended => {}
        Frame::Doc(..) => unreachable!(),
    }
    // Posting goes on for everyone else.
    rest.post_messages("firehose", &[json!({"body": "still fine"})])
        .await;
    server.shutdown().await;
}
