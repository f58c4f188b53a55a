//! Every limit of reference §3 and the request pipeline's errors (§1.2–1.8): each answers
//! with the right status and a Zaqar error body (`title` and `description`), never a 500.

use crate::common;
use crate::common::ws::{Codec, WsClient};
use crate::common::{Client, TestServer};
use cairn::model::Limits;
use reqwest::Method;
use serde_json::json;

const INVALID_REQUEST: &str = "Invalid API request";
const INVALID_BODY: &str = "Invalid request body";

// ---- page sizes and counts -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_list_limit_must_be_between_1_and_20() {
    let server = TestServer::start().await;
    let c = server.client();

    for limit in ["21", "0", "-1"] {
        let r = c.get(&format!("/v2/queues?limit={limit}")).await;
        r.expect_error(400, INVALID_REQUEST);
        assert_eq!(
            r.description(),
            "Limit must be at least 1 and may not be greater than 20."
        );
    }
    c.get("/v2/queues?limit=20").await.expect(200);
    c.get("/v2/queues?limit=1").await.expect(200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_list_limit_must_be_between_1_and_20() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    for limit in ["21", "0"] {
        let r = c.get(&format!("/v2/queues/q/messages?limit={limit}")).await;
        r.expect_error(400, INVALID_REQUEST);
        assert_eq!(
            r.description(),
            "Limit must be at least 1 and may not be greater than 20."
        );
    }
    c.get("/v2/queues/q/messages?limit=20").await.expect(200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_integer_and_non_boolean_parameters_are_invalid() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    for path in [
        "/v2/queues?limit=ten",
        "/v2/queues?detailed=maybe",
        "/v2/queues?with_count=2",
        "/v2/queues/q/messages?limit=1.5",
        "/v2/queues/q/messages?echo=maybe",
        "/v2/queues/q/messages?include_claimed=sure",
        "/v2/queues/q/messages?include_delayed=nope",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, 400, "{path}: {r:?}");
        r.expect_error(400, "Invalid parameter");
    }
    c.post("/v2/queues/q/claims?limit=x", &json!({}))
        .await
        .expect_error(400, "Invalid parameter");
    c.delete("/v2/queues/q/messages?pop=x")
        .await
        .expect_error(400, "Invalid parameter");
    // Every spelling of a boolean that falcon accepts.
    for value in [
        "true", "True", "t", "yes", "y", "1", "on", "false", "False", "f", "no", "n", "0", "off",
    ] {
        c.get(&format!("/v2/queues/q/messages?echo={value}"))
            .await
            .expect(200);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_must_be_between_1_and_20() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    for pop in ["0", "21", "-3"] {
        let r = c.delete(&format!("/v2/queues/q/messages?pop={pop}")).await;
        r.expect_error(400, INVALID_REQUEST);
        assert_eq!(
            r.description(),
            "Pop value must be at least 1 and may not be greater than 20."
        );
    }
    assert_eq!(c.stats("q").await["total"], 1);
    c.delete("/v2/queues/q/messages?pop=20").await.expect(200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_20_ids_may_be_given() {
    let server = TestServer::start().await;
    let c = server.client();
    let ids = c.post_n("q", 21).await;

    let too_many = format!("/v2/queues/q/messages?ids={}", ids.join(","));
    let r = c.get(&too_many).await;
    r.expect_error(400, INVALID_REQUEST);
    assert_eq!(
        r.description(),
        "ids parameter should have at least 1 and not greater than 20 values."
    );
    let r = c.delete(&too_many).await;
    r.expect_error(400, INVALID_REQUEST);
    assert_eq!(c.stats("q").await["total"], 21);

    let twenty = format!("/v2/queues/q/messages?ids={}", ids[..20].join(","));
    let r = c.get(&twenty).await;
    r.expect(200);
    assert_eq!(r.messages().len(), 20);
    c.delete(&twenty).await.expect(204);
    assert_eq!(c.stats("q").await["total"], 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_limit_must_be_between_1_and_20() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 25).await;

    for limit in ["0", "21"] {
        let r = c
            .post(&format!("/v2/queues/q/claims?limit={limit}"), &json!({}))
            .await;
        r.expect_error(400, INVALID_REQUEST);
        assert_eq!(
            r.description(),
            "Limit must be at least 1 and may not be greater than 20."
        );
    }
    assert_eq!(c.stats("q").await["claimed"], 0);
    let (_, claimed) = c.claim("q", &json!({}), Some(20)).await.expect("claim");
    assert_eq!(claimed.len(), 20);
    server.shutdown().await;
}

// ---- TTLs and grace ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_ttl_must_be_between_60_and_1209600() {
    let server = TestServer::start().await;
    let c = server.client();

    for ttl in [59, 1_209_601, 0, -60] {
        let r = c
            .post(
                "/v2/queues/q/messages",
                &json!({"messages": [{"body": 1, "ttl": ttl}]}),
            )
            .await;
        r.expect_error(400, INVALID_REQUEST);
        assert_eq!(
            r.description(),
            "The TTL for a message may not exceed 1209600 seconds, and must be at least \
             60 seconds long."
        );
    }
    c.get("/v2/queues/q/stats").await.expect(200);
    assert_eq!(c.stats("q").await["total"], 0);

    let ids = c
        .post_messages(
            "q",
            &[
                json!({"body": 1, "ttl": 60}),
                json!({"body": 2, "ttl": 1_209_600}),
            ],
        )
        .await;
    assert_eq!(ids.len(), 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_one_invalid_message_is_rejected_whole() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c
        .post(
            "/v2/queues/q/messages",
            &json!({"messages": [{"body": "fine"}, {"body": "bad", "ttl": 59}]}),
        )
        .await;

    r.expect_error(400, INVALID_REQUEST);
    assert_eq!(c.stats("q").await["total"], 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_ttl_and_grace_must_be_between_60_and_43200() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 2).await;

    let cases = [
        (json!({"ttl": 59}), "The TTL for a claim may not exceed 43200 seconds, and must be at least 60 seconds long."),
        (json!({"ttl": 43201}), "The TTL for a claim may not exceed 43200 seconds, and must be at least 60 seconds long."),
        (json!({"grace": 59}), "The grace for a claim may not exceed 43200 seconds, and must be at least 60 seconds long."),
        (json!({"grace": 43201}), "The grace for a claim may not exceed 43200 seconds, and must be at least 60 seconds long."),
    ];
    for (body, description) in cases {
        let r = c.post("/v2/queues/q/claims", &body).await;
        r.expect_error(400, INVALID_REQUEST);
        assert_eq!(r.description(), description, "{body}");
    }
    assert_eq!(c.stats("q").await["claimed"], 0);

    c.claim("q", &json!({"ttl": 60, "grace": 60}), Some(1))
        .await
        .expect("the minimum is accepted");
    c.claim("q", &json!({"ttl": 43200, "grace": 43200}), Some(1))
        .await
        .expect("the maximum is accepted");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_checks_the_ttl_and_requires_a_body() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;
    let (claim_id, _) = c.claim("q", &json!({}), None).await.expect("claim");
    let path = format!("/v2/queues/q/claims/{claim_id}");

    for ttl in [59, 43201] {
        c.patch(&path, &json!({"ttl": ttl}))
            .await
            .expect_error(400, INVALID_REQUEST);
    }
    c.send(c.request(Method::PATCH, &path))
        .await
        .expect_error(400, INVALID_BODY);
    c.send_raw(Method::PATCH, &path, "[]")
        .await
        .expect_error(400, INVALID_BODY);
    c.patch(&path, &json!({"ttl": "long"}))
        .await
        .expect_error(400, INVALID_BODY);
    assert_eq!(c.get(&path).await.body["ttl"], 300);
    server.shutdown().await;
}

/// A `null` field of a subscription update leaves it as it is, as python-openstackclient's
/// `openstack messaging subscription update --ttl 7200` sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_subscription_field_is_left_unchanged() {
    let server = TestServer::start().await;
    let c = server.client();
    let created = c
        .post(
            "/v2/queues/q/subscriptions",
            &json!({"subscriber": "http://example.com/hook", "ttl": 600, "options": {"a": 1}}),
        )
        .await;
    created.expect(201);
    let id = created.body["subscription_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v2/queues/q/subscriptions/{id}");
    c.patch(
        &path,
        &json!({"subscriber": null, "ttl": 7200, "options": {}}),
    )
    .await
    .expect(204);
    let got = c.get(&path).await;
    got.expect(200);
    assert_eq!(got.body["subscriber"], "http://example.com/hook");
    assert_eq!(got.body["ttl"], 7200);
    assert_eq!(got.body["options"], json!({}));
    c.patch(&path, &json!({"ttl": null})).await.expect(204);
    assert_eq!(c.get(&path).await.body["ttl"], 7200);
    c.post(
        "/v2/queues/q/subscriptions",
        &json!({"subscriber": null, "ttl": 600}),
    )
    .await
    .expect_error(400, INVALID_REQUEST);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_metadata_is_validated_on_create() {
    let server = TestServer::start().await;
    let c = server.client();

    for metadata in [
        json!({"_default_message_ttl": 59}),
        json!({"_default_message_ttl": 1_209_601}),
        json!({"_default_message_ttl": "an hour"}),
        json!({"_max_messages_post_size": 262_145}),
        json!({"_max_messages_post_size": -1}),
        json!({"_default_message_delay": 901}),
        json!({"_default_message_delay": -1}),
        json!({"_dead_letter_queue_messages_ttl": 59}),
        json!({"_max_claim_count": "twice"}),
        json!({"_enable_encrypt_messages": "yes"}),
    ] {
        let r = c.put("/v2/queues/q", &metadata).await;
        assert_eq!(r.status, 400, "{metadata}: {r:?}");
        r.expect_error(400, INVALID_REQUEST);
        c.head("/v2/queues/q").await.expect(404);
    }
    server.shutdown().await;
}

// ---- sizes ---------------------------------------------------------------------------------

/// A JSON object `{"k": "xxx…"}` of exactly `len` bytes.
fn document_of(len: usize) -> String {
    let overhead = r#"{"k": ""}"#.len();
    format!(r#"{{"k": "{}"}}"#, "x".repeat(len - overhead))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_metadata_may_not_exceed_65536_bytes() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c
        .send_raw(Method::PUT, "/v2/queues/big", document_of(65_537))
        .await;
    r.expect_error(400, INVALID_REQUEST);
    c.head("/v2/queues/big").await.expect(404);

    c.send_raw(Method::PUT, "/v2/queues/big", document_of(65_536))
        .await
        .expect(201);

    let patch = |len: usize| {
        let overhead = r#"[{"op": "add", "path": "/metadata/k", "value": ""}]"#.len();
        let body = format!(
            r#"[{{"op": "add", "path": "/metadata/k", "value": "{}"}}]"#,
            "y".repeat(len - overhead)
        );
        assert_eq!(body.len(), len);
        c.send(
            c.request(Method::PATCH, "/v2/queues/big")
                .header("Content-Type", common::JSON_PATCH)
                .body(body),
        )
    };
    patch(65_537).await.expect_error(400, INVALID_REQUEST);
    patch(1_000).await.expect(200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_post_may_not_exceed_262144_bytes() {
    let server = TestServer::start().await;
    let c = server.client();
    let post = |len: usize| {
        let overhead = r#"{"messages": [{"body": ""}]}"#.len();
        let body = format!(
            r#"{{"messages": [{{"body": "{}"}}]}}"#,
            "z".repeat(len - overhead)
        );
        assert_eq!(body.len(), len);
        c.send_raw(Method::POST, "/v2/queues/q/messages", body)
    };

    let r = post(262_145).await;
    r.expect_error(400, INVALID_REQUEST);
    assert_eq!(c.stats("q").await["total"], 0);

    post(262_144).await.expect(201);
    assert_eq!(c.stats("q").await["total"], 1);

    // Far larger bodies still get a clean 400, not a reset connection.
    post(2_000_000).await.expect_error(400, INVALID_REQUEST);
    server.shutdown().await;
}

// ---- JSON documents ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integers_beyond_64_bits_are_rejected() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    let cases = [
        (
            Method::POST,
            "/v2/queues/q/messages",
            r#"{"messages": [{"body": 1, "ttl": 9223372036854775808}]}"#,
        ),
        (
            Method::POST,
            "/v2/queues/q/messages",
            r#"{"messages": [{"body": {"n": 9223372036854775808}}]}"#,
        ),
        (
            Method::POST,
            "/v2/queues/q/messages",
            r#"{"messages": [{"body": -9223372036854775809}]}"#,
        ),
        (
            Method::POST,
            "/v2/queues/q/claims",
            r#"{"ttl": 9223372036854775808}"#,
        ),
        (
            Method::PUT,
            "/v2/queues/other",
            r#"{"big": 9223372036854775808}"#,
        ),
    ];
    for (method, path, body) in cases {
        let r = c.send_raw(method.clone(), path, body).await;
        assert_eq!(r.status, 400, "{method} {path} {body}: {r:?}");
        r.expect_error(400, INVALID_BODY);
    }
    let stats = c.stats("q").await;
    assert_eq!((&stats["total"], &stats["claimed"]), (&json!(1), &json!(0)));
    c.head("/v2/queues/other").await.expect(404);

    // The largest 64-bit integer is fine.
    let r = c
        .send_raw(
            Method::POST,
            "/v2/queues/q/messages",
            r#"{"messages": [{"body": 9223372036854775807}]}"#,
        )
        .await;
    r.expect(201);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_scalar_bodies_are_invalid() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    for body in ["{not json", "[1, 2", "123", "\"text\"", "null", "true", ""] {
        for (method, path) in [
            (Method::POST, "/v2/queues/q/messages"),
            (Method::PUT, "/v2/queues/fresh"),
            (Method::POST, "/v2/queues/q/claims"),
        ] {
            if body.is_empty() && method == Method::PUT {
                continue; // an empty PUT body means "no metadata"
            }
            if body.is_empty() && path.ends_with("claims") {
                continue; // an empty claim body means "defaults"
            }
            let r = c.send_raw(method.clone(), path, body).await;
            assert_eq!(r.status, 400, "{method} {path} {body:?}: {r:?}");
            r.expect_error(400, INVALID_BODY);
        }
    }
    c.head("/v2/queues/fresh").await.expect(404);
    assert_eq!(c.stats("q").await["total"], 1);
    assert_eq!(c.stats("q").await["claimed"], 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_of_the_wrong_shape_are_rejected() {
    let server = TestServer::start().await;
    let c = server.client();

    let cases = [
        // POST messages
        ("/v2/queues/q/messages", json!([{"body": 1}]), INVALID_BODY),
        ("/v2/queues/q/messages", json!({}), INVALID_REQUEST),
        (
            "/v2/queues/q/messages",
            json!({"messages": []}),
            INVALID_REQUEST,
        ),
        (
            "/v2/queues/q/messages",
            json!({"messages": {"body": 1}}),
            INVALID_BODY,
        ),
        (
            "/v2/queues/q/messages",
            json!({"messages": [{"ttl": 60}]}),
            INVALID_BODY,
        ),
        (
            "/v2/queues/q/messages",
            json!({"messages": ["body"]}),
            INVALID_BODY,
        ),
        (
            "/v2/queues/q/messages",
            json!({"messages": [{"body": 1, "ttl": "60"}]}),
            INVALID_BODY,
        ),
        (
            "/v2/queues/q/messages",
            json!({"messages": [{"body": 1, "ttl": 60.5}]}),
            INVALID_BODY,
        ),
        // POST claims
        ("/v2/queues/q/claims", json!([]), INVALID_BODY),
        ("/v2/queues/q/claims", json!({"ttl": "300"}), INVALID_BODY),
        ("/v2/queues/q/claims", json!({"grace": [60]}), INVALID_BODY),
    ];
    for (path, body, title) in cases {
        let r = c.post(path, &body).await;
        assert_eq!(r.status, 400, "{path} {body}: {r:?}");
        r.expect_error(400, title);
    }
    let r = c.put("/v2/queues/q", &json!([{"a": 1}])).await;
    r.expect_error(400, INVALID_BODY);
    c.head("/v2/queues/q").await.expect(404);
    server.shutdown().await;
}

// ---- headers -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_id_is_required_and_must_be_a_uuid() {
    let server = TestServer::start().await;
    let c = server.client();

    let missing = c
        .send(
            c.bare(Method::GET, "/v2/queues")
                .header("X-Project-ID", "p"),
        )
        .await;
    missing.expect_error(400, "Missing header value");

    for bad in [
        "not-a-uuid",
        "0xdeadbeef",
        "3381af92-2b9e-11e3-b191-71861300734",
        "",
    ] {
        let r = c.with_client_id(bad).get("/v2/queues").await;
        assert_eq!(r.status, 400, "{bad:?}: {r:?}");
        r.expect_error(400, "Wrong UUID value");
        assert_eq!(r.description(), "Malformed hexadecimal UUID.");
    }

    for good in [
        "3381af92-2b9e-11e3-b191-71861300734c",
        "3381af922b9e11e3b19171861300734c",
        "3381AF92-2B9E-11E3-B191-71861300734C",
    ] {
        c.with_client_id(good).get("/v2/queues").await.expect(200);
    }

    // Writes are refused as well, and change nothing.
    let r = c
        .send(
            c.bare(Method::PUT, "/v2/queues/q")
                .header("X-Project-ID", &c.project),
        )
        .await;
    r.expect_error(400, "Missing header value");
    c.head("/v2/queues/q").await.expect(404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_header_is_required_and_non_empty() {
    let server = TestServer::start().await;
    let c = server.client();

    let missing = c
        .send(
            c.bare(Method::GET, "/v2/queues")
                .header("Client-ID", &c.client_id),
        )
        .await;
    missing.expect_error(400, "Project-Id Missing");

    let empty = c.with_project("").get("/v2/queues").await;
    empty.expect_error(400, "Empty project header not allowed");

    // X-Tenant-ID and X-Tenant are fallbacks for X-Project-ID.
    c.create_queue("q", &json!({})).await;
    for header in ["X-Tenant-ID", "X-Tenant"] {
        let r = c
            .send(
                c.bare(Method::GET, "/v2/queues")
                    .header("Client-ID", &c.client_id)
                    .header(header, &c.project),
            )
            .await;
        r.expect(200);
        assert_eq!(r.body["queues"][0]["name"], "q", "{header}");
    }

    // Project ids longer than 256 characters are refused on queue routes.
    let long = c.with_project(&"p".repeat(257));
    long.put("/v2/queues/q", &json!({}))
        .await
        .expect_error(400, "Invalid queue identification");
    c.with_project(&"p".repeat(256))
        .put("/v2/queues/q", &json!({}))
        .await
        .expect(201);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_names_must_be_at_most_64_safe_characters() {
    let server = TestServer::start().await;
    let c = server.client();
    let too_long = "q".repeat(65);
    let bad_names = [
        too_long.as_str(),
        "a@b",
        "with%20space",
        "caf%C3%A9",
        "a+b",
        "a%2Fb",
    ];

    for name in bad_names {
        let r = c.put(&format!("/v2/queues/{name}"), &json!({})).await;
        assert_eq!(r.status, 400, "{name}: {r:?}");
        r.expect_error(400, "Invalid queue identification");
    }
    for name in [too_long.as_str(), "a@b"] {
        for (method, path) in [
            (Method::GET, format!("/v2/queues/{name}")),
            (Method::HEAD, format!("/v2/queues/{name}")),
            (Method::DELETE, format!("/v2/queues/{name}")),
            (Method::GET, format!("/v2/queues/{name}/stats")),
            (Method::POST, format!("/v2/queues/{name}/purge")),
            (Method::GET, format!("/v2/queues/{name}/messages")),
            (Method::POST, format!("/v2/queues/{name}/claims")),
        ] {
            let r = c.send(c.request(method.clone(), &path)).await;
            assert_eq!(r.status, 400, "{method} {path}: {r:?}");
            if method != Method::HEAD {
                r.expect_error(400, "Invalid queue identification");
            }
        }
        let r = c
            .post(
                &format!("/v2/queues/{name}/messages"),
                &json!({"messages": [{"body": 1}]}),
            )
            .await;
        r.expect_error(400, "Invalid queue identification");
    }
    assert_eq!(c.get("/v2/queues").await.body["queues"], json!([]));

    let longest = "Q".repeat(64);
    c.create_queue(&longest, &json!({})).await;
    c.create_queue("a-b_c.9", &json!({})).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_header_without_json_is_406() {
    let server = TestServer::start().await;
    let c = server.client();

    for accept in ["application/xml", "text/html", "application/json;q=0"] {
        let r = c
            .send(
                c.request(Method::GET, "/v2/queues")
                    .header("Accept", accept),
            )
            .await;
        assert_eq!(r.status, 406, "{accept}: {r:?}");
        assert!(r.body["title"].is_string(), "{r:?}");
    }
    for accept in [
        "application/json",
        "*/*",
        "application/*",
        "text/html, application/json;q=0.5",
    ] {
        let r = c
            .send(
                c.request(Method::GET, "/v2/queues")
                    .header("Accept", accept),
            )
            .await;
        assert_eq!(r.status, 200, "{accept}: {r:?}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_urlencoded_body_is_400() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c
        .send(
            c.request(Method::POST, "/v2/queues/q/messages")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("messages=1"),
        )
        .await;

    r.expect_error(400, "Invalid Content-Type");
    c.head("/v2/queues/q").await.expect(404);
    server.shutdown().await;
}

// ---- routing -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404() {
    let server = TestServer::start().await;
    let c = server.client();

    for path in [
        "/v3",
        "/v2/nothing",
        "/v2/queues/",
        "/v2/queues/q/unknown",
        "/v2/queues/q/messages/id/extra",
        "/v1.1/queues",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert_eq!(r.body["title"], "404 Not Found", "{path}: {r:?}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_method_on_a_known_route_is_405() {
    let server = TestServer::start().await;
    let c = server.client();

    for (method, path) in [
        (Method::POST, "/v2/queues/q"),
        (Method::PUT, "/v2/queues/q/stats"),
        (Method::GET, "/v2/queues/q/purge"),
        (Method::PUT, "/v2/queues/q/messages"),
        (Method::GET, "/v2/queues/q/claims"),
        (Method::DELETE, "/v2/queues"),
    ] {
        let r = c.send(c.request(method.clone(), path)).await;
        assert_eq!(r.status, 405, "{method} {path}: {r:?}");
        assert!(r.header("allow").is_some(), "{method} {path}: {r:?}");
    }
    server.shutdown().await;
}

// ---- configurable limits -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_replace_the_defaults() {
    let limits = Limits {
        max_queues_per_page: 3,
        max_messages_per_page: 4,
        max_messages_per_claim_or_pop: 2,
        max_message_ttl: 600,
        max_claim_ttl: 120,
        default_message_ttl: 300,
        default_claim_ttl: 90,
        max_messages_post_size: 1_000,
        max_queue_metadata: 100,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let c: Client = server.client();

    let r = c.get("/v2/queues?limit=4").await;
    r.expect_error(400, INVALID_REQUEST);
    assert_eq!(
        r.description(),
        "Limit must be at least 1 and may not be greater than 3."
    );
    c.get("/v2/queues/q/messages?limit=5")
        .await
        .expect_error(400, INVALID_REQUEST);
    c.delete("/v2/queues/q/messages?pop=3")
        .await
        .expect_error(400, INVALID_REQUEST);
    c.post("/v2/queues/q/claims?limit=3", &json!({}))
        .await
        .expect_error(400, INVALID_REQUEST);
    c.post(
        "/v2/queues/q/messages",
        &json!({"messages": [{"body": 1, "ttl": 601}]}),
    )
    .await
    .expect_error(400, INVALID_REQUEST);
    c.post("/v2/queues/q/claims", &json!({"ttl": 121}))
        .await
        .expect_error(400, INVALID_REQUEST);
    c.post(
        "/v2/queues/q/messages",
        &json!({"messages": [{"body": "x".repeat(1_000)}]}),
    )
    .await
    .expect_error(400, INVALID_REQUEST);
    c.put("/v2/queues/q", &json!({"k": "x".repeat(100)}))
        .await
        .expect_error(400, INVALID_REQUEST);

    // The configured defaults apply, and show in the queue's reported metadata.
    let id = c.post_one("q", json!(1)).await;
    assert_eq!(
        c.get(&format!("/v2/queues/q/messages/{id}")).await.body["ttl"],
        300
    );
    let md = c.get("/v2/queues/q").await.body;
    assert_eq!(md["_default_message_ttl"], 300);
    assert_eq!(md["_max_messages_post_size"], 1_000);
    let (claim_id, _) = c.claim("q", &json!({}), None).await.expect("claim");
    assert_eq!(
        c.get(&format!("/v2/queues/q/claims/{claim_id}")).await.body["ttl"],
        90
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_id_checks_off_any_string_of_bounded_length_is_accepted() {
    let limits = Limits {
        client_id_uuid_safe: cairn::model::ClientIdPolicy::Off,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let c = server.client();

    let producer = c.with_client_id("producer-01");
    let consumer = c.with_client_id("consumer-01");
    let id = producer.post_one("q", json!(1)).await;
    assert!(producer.list_ids("q", "").await.is_empty());
    assert_eq!(consumer.list_ids("q", "").await, vec![id]);
    c.with_client_id(&"x".repeat(36))
        .get("/v2/queues")
        .await
        .expect(200);

    for bad in ["short", "", &"x".repeat(37)] {
        let r = c.with_client_id(bad).get("/v2/queues").await;
        assert_eq!(r.status, 400, "{bad:?}: {r:?}");
        assert!(r.body["title"].is_string(), "{r:?}");
        assert!(r.body.get("description").is_some(), "{r:?}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_message_delete_with_claim_id_bulk_deletes_need_the_claims() {
    let limits = Limits {
        message_delete_with_claim_id: true,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let c = server.client();
    let ids = c.post_n("q", 3).await;
    let (claim_id, _) = c.claim("q", &json!({}), Some(2)).await.expect("claim");
    let claimed = format!("{},{}", ids[0], ids[1]);

    c.delete(&format!("/v2/queues/q/messages?ids={claimed}"))
        .await
        .expect_error(400, INVALID_REQUEST);
    let wrong = c
        .delete(&format!(
            "/v2/queues/q/messages?ids={claimed}&claim_ids={}",
            common::new_uuid()
        ))
        .await;
    assert!(wrong.status == 400 || wrong.status == 403, "{wrong:?}");
    assert!(wrong.body["title"].is_string(), "{wrong:?}");
    assert_eq!(c.stats("q").await["total"], 3);

    c.delete(&format!(
        "/v2/queues/q/messages?ids={claimed}&claim_ids={claim_id}"
    ))
    .await
    .expect(204);
    assert_eq!(c.stats("q").await["total"], 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booleans_pass_the_integer_type_check_but_fail_the_range_check() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("q", 1).await;

    c.post("/v2/queues/q/claims", &json!({"ttl": true}))
        .await
        .expect_error(400, INVALID_REQUEST);
    c.post(
        "/v2/queues/q/messages",
        &json!({"messages": [{"body": 1, "ttl": true}]}),
    )
    .await
    .expect_error(400, INVALID_REQUEST);
    assert_eq!(c.stats("q").await["total"], 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_project_ids_are_only_refused_on_queue_routes() {
    let server = TestServer::start().await;
    let c = server.client().with_project(&"p".repeat(300));

    c.get("/v2/queues").await.expect(200);
    c.get("/v2/ping").await.expect(204);
    c.get("/v2/queues/q/stats")
        .await
        .expect_error(400, "Invalid queue identification");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_requests_never_cause_a_server_error() {
    let server = TestServer::start().await;
    let c = server.client();
    let id = c.post_one("q", json!(1)).await;
    let (claim_id, _) = c.claim("q", &json!({}), None).await.expect("claim");

    let requests: Vec<(Method, String, Option<&str>)> = vec![
        (Method::GET, "/v2/queues/%FF".into(), None),
        (Method::PUT, "/v2/queues/%00".into(), Some("{}")),
        (Method::GET, "/v2/queues/q/messages/%FF".into(), None),
        (
            Method::DELETE,
            "/v2/queues/q/messages/%FF?claim_id=%FF".into(),
            None,
        ),
        (Method::GET, format!("/v2/queues/q/messages/{id}%00"), None),
        (Method::GET, "/v2/queues/q/claims/%FF".into(), None),
        (
            Method::PATCH,
            "/v2/queues/q/claims/%FF".into(),
            Some(r#"{"ttl": 100}"#),
        ),
        (Method::DELETE, "/v2/queues/q/claims/%FF".into(), None),
        (Method::GET, "/v2/queues?marker=%FF&name=%00".into(), None),
        (
            Method::GET,
            "/v2/queues/q/messages?marker=-1&echo=true".into(),
            None,
        ),
        (
            Method::GET,
            "/v2/queues/q/messages?marker=9223372036854775807".into(),
            None,
        ),
        (
            Method::GET,
            "/v2/queues/q/messages?marker=99999999999999999999".into(),
            None,
        ),
        (
            Method::GET,
            "/v2/queues/q/messages?limit=99999999999999999999".into(),
            None,
        ),
        (
            Method::DELETE,
            "/v2/queues/q/messages?pop=99999999999999999999".into(),
            None,
        ),
        (Method::GET, "/v2/queues/q/messages?ids=,,,".into(), None),
        (
            Method::DELETE,
            format!("/v2/queues/q/messages?ids={id}&claim_ids={claim_id}"),
            None,
        ),
        (
            Method::POST,
            "/v2/queues/q/messages".into(),
            Some(r#"{"messages": [{"body": "\ud800"}]}"#),
        ),
        (
            Method::POST,
            "/v2/queues/q/messages".into(),
            Some("\u{feff}{\"messages\": [{\"body\": 1}]}"),
        ),
        (
            Method::POST,
            "/v2/queues/q/messages".into(),
            Some(r#"{"messages": [{"body": 1}]} trailing"#),
        ),
        (
            Method::POST,
            "/v2/queues/q/messages".into(),
            Some(r#"{"messages": [{"body": 1e400}]}"#),
        ),
        (
            Method::PUT,
            "/v2/queues/q2".into(),
            Some(r#"{"_retry_policy": 5}"#),
        ),
        (
            Method::PUT,
            "/v2/queues/q3".into(),
            Some(r#"{"_dead_letter_queue": 5, "_max_claim_count": 1}"#),
        ),
        (Method::POST, "/v2/queues/q/purge".into(), Some("[]")),
        (
            Method::POST,
            "/v2/queues/q/claims?limit=-5".into(),
            Some("{}"),
        ),
    ];
    for (method, path, body) in requests {
        let mut request = c.request(method.clone(), &path);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        let r = c.send(request).await;
        assert!(r.status < 500, "{method} {path} {body:?}: {r:?}");
        if r.status >= 400 && r.status != 404 && r.status != 405 {
            assert!(r.body["title"].is_string(), "{method} {path}: {r:?}");
        }
    }
    // The server still works.
    c.get("/v2/ping").await.expect(204);
    let fresh = c.post_one("q", json!("still here")).await;
    c.get(&format!("/v2/queues/q/messages/{fresh}"))
        .await
        .expect(200);
    server.shutdown().await;
}

// ---- quotas (beyond Zaqar: off by default) -----------------------------------------------------

const QUOTA: &str = "Quota exceeded";

fn messages(n: usize) -> serde_json::Value {
    json!({"messages": (0..n).map(|i| json!({"body": i, "ttl": 600})).collect::<Vec<_>>()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_holds_at_most_its_queue_quota() {
    let limits = Limits {
        max_queues_per_project: 2,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let c = server.client();
    c.put_empty("/v2/queues/one").await.expect(201);
    c.post("/v2/queues/two/messages", &messages(1))
        .await
        .expect(201);

    let r = c.put_empty("/v2/queues/three").await;
    r.expect_error(403, QUOTA);
    assert!(r.description().contains("at most 2"), "{}", r.description());
    // A first post to a new queue is refused too, and nothing of it is stored.
    c.post("/v2/queues/three/messages", &messages(1))
        .await
        .expect_error(403, QUOTA);
    c.head("/v2/queues/three").await.expect(404);
    // The queues it holds still work; another project has its own quota.
    c.put_empty("/v2/queues/one").await.expect(204);
    c.post("/v2/queues/one/messages", &messages(1))
        .await
        .expect(201);
    server
        .client()
        .put_empty("/v2/queues/three")
        .await
        .expect(201);
    // Deleting a queue makes room.
    c.delete("/v2/queues/one").await.expect(204);
    c.put_empty("/v2/queues/three").await.expect(201);
    // Over WebSocket too.
    let mut ws = WsClient::connect(&server, Codec::Json, &c.client_id, &c.project).await;
    let refused = ws.send("queue_create", json!({"queue_name": "four"})).await;
    refused.expect_error(403);
    assert!(refused.error().contains("at most 2"), "{}", refused.error());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_holds_at_most_its_message_quota() {
    let limits = Limits {
        max_messages_per_queue: 5,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let c = server.client();
    c.post("/v2/queues/q/messages", &messages(3))
        .await
        .expect(201);

    // A batch that would pass the quota is refused whole.
    let r = c.post("/v2/queues/q/messages", &messages(3)).await;
    r.expect_error(403, QUOTA);
    assert!(r.description().contains("5"), "{}", r.description());
    let stats = c.get("/v2/queues/q/stats").await;
    assert_eq!(stats.body["messages"]["total"], 3);
    c.post("/v2/queues/q/messages", &messages(2))
        .await
        .expect(201);
    c.post("/v2/queues/q/messages", &messages(1))
        .await
        .expect_error(403, QUOTA);
    // Consuming makes room; other queues have their own.
    let popped = c.delete("/v2/queues/q/messages?pop=2").await;
    popped.expect(200);
    c.post("/v2/queues/q/messages", &messages(2))
        .await
        .expect(201);
    c.post("/v2/queues/other/messages", &messages(5))
        .await
        .expect(201);
    // Expired messages no longer count.
    server.advance(601);
    c.post("/v2/queues/q/messages", &messages(5))
        .await
        .expect(201);
    server.shutdown().await;
}
