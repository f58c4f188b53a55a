//! Authentication and authorization over every transport: Keystone tokens (a real Keystone,
//! see `common::keystone`), pre-signed URLs, policy and CORS. Each of Zaqar's past security
//! holes has a test here: an `EXTRA-SPEC` header, an empty `URL-Signature`, forged identity
//! headers, and WebSocket frames naming another project.

use std::time::Duration;

use crate::common::keystone::{real_clock, Keystone};
use crate::common::ws::{Codec, Frame, WsClient};
use crate::common::{new_uuid, Client, TestServer};
use cairn::auth::AuthSettings;
use cairn::model::Timestamp;
use reqwest::Method;
use serde_json::{json, Value};

async fn keystone_server(keystone: &Keystone) -> TestServer {
    let settings = keystone.settings();
    TestServer::custom(real_clock(), |s| {
        s.auth = AuthSettings {
            keystone: Some(settings),
            signing_key: Some(b"share-secret".to_vec()),
            ..Default::default()
        };
    })
    .await
}

/// A client of `project` (a Keystone id) sending `token`.
fn as_user(server: &TestServer, project: &str, token: &str) -> Client {
    Client::new(&server.base, &new_uuid(), project).with_header("X-Auth-Token", token)
}

async fn metric(server: &TestServer, line: &str) -> u64 {
    let text = server.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(line).map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0)
}

#[tokio::test]
async fn tokens_decide_the_project_over_rest() {
    let keystone = Keystone::shared();
    let server = keystone_server(keystone).await;
    let (alpha, beta) = (keystone.project("alpha"), keystone.project("beta"));
    let alice = as_user(&server, &alpha, &keystone.token("alice", "alpha").await);
    let bob = as_user(&server, &beta, &keystone.token("bob", "beta").await);

    // No token, a garbage token: 401 in Zaqar's format, naming Keystone.
    let anonymous = Client::new(&server.base, &new_uuid(), &alpha);
    let r = anonymous.get("/v2/queues").await;
    r.expect_error(401, "Unauthorized");
    let realm = r.header("www-authenticate").expect("WWW-Authenticate");
    assert_eq!(realm, format!("Keystone uri=\"{}\"", keystone.url));
    anonymous
        .with_header("X-Auth-Token", "gAAAAAB-garbage")
        .get("/v2/queues")
        .await
        .expect_error(401, "Unauthorized");

    alice.create_queue("orders", &json!({})).await;
    alice
        .post_messages("orders", &[json!({"body": 1, "ttl": 300})])
        .await;

    // The token's project is the project: naming another is refused, not obeyed.
    alice
        .with_project(&beta)
        .get("/v2/queues/orders/messages?echo=true")
        .await
        .expect_error(403, "Not authorized");
    bob.with_project(&alpha)
        .get("/v2/queues/orders/messages?echo=true")
        .await
        .expect_error(403, "Not authorized");
    let listed = bob.get("/v2/queues").await;
    listed.expect(200);
    assert!(listed.body["queues"].as_array().unwrap().is_empty());
    // Without X-Project-ID, the token's project is used.
    let r = alice
        .send(
            alice
                .bare(Method::GET, "/v2/queues")
                .header("Client-ID", new_uuid())
                .header("X-Auth-Token", &alice.extra[0].1),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["queues"][0]["name"], "orders");

    // Identity headers beside a token are not trusted: X-Roles does not make an admin.
    alice
        .with_header("X-Roles", "admin")
        .get("/v2/health")
        .await
        .expect_error(403, "Not authorized");
    let root = as_user(&server, &alpha, &keystone.token("root", "alpha").await);
    root.get("/v2/health").await.expect(200);

    // Side doors: EXTRA-SPEC and an empty URL-Signature never stand in for a token.
    anonymous
        .with_header("EXTRA-SPEC", "messagecode:x")
        .get("/v2/queues/orders/messages?echo=true")
        .await
        .expect_error(401, "Unauthorized");
    let r = anonymous
        .with_header("URL-Signature", "")
        .get("/v2/queues/orders/messages?echo=true")
        .await;
    r.expect(404);

    // A revoked token is refused (it was never cached); a cached one is a cache hit.
    let doomed = keystone.token("alice", "alpha").await;
    keystone.revoke(&doomed).await;
    as_user(&server, &alpha, &doomed)
        .get("/v2/queues")
        .await
        .expect_error(401, "Unauthorized");
    let hits = metric(&server, "cairn_auth_token_cache_total{result=\"hit\"}").await;
    for _ in 0..5 {
        alice.get("/v2/queues").await.expect(200);
    }
    let after = metric(&server, "cairn_auth_token_cache_total{result=\"hit\"}").await;
    assert!(after >= hits + 5, "cache hits {hits} -> {after}");
    assert!(metric(&server, "cairn_auth_token_cache_total{result=\"miss\"}").await >= 3);
    assert!(metric(&server, "cairn_auth_refusals_total{reason=\"token\"}").await >= 3);
}

#[tokio::test]
async fn an_application_credential_serves_as_the_service_identity() {
    let keystone = Keystone::shared();
    let settings = keystone.settings_with_application_credential();
    let server = TestServer::custom(real_clock(), |s| {
        s.auth.keystone = Some(settings);
    })
    .await;
    let alpha = keystone.project("alpha");
    let alice = as_user(&server, &alpha, &keystone.token("alice", "alpha").await);
    alice.create_queue("via-appcred", &json!({})).await;
}

#[tokio::test]
async fn keystone_unreachable_is_503_never_open() {
    let keystone = Keystone::shared();
    let mut settings = keystone.settings();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    settings.url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = TestServer::custom(real_clock(), |s| s.auth.keystone = Some(settings)).await;
    let token = keystone.token("alice", "alpha").await;
    as_user(&server, &keystone.project("alpha"), &token)
        .get("/v2/queues")
        .await
        .expect_error(503, "Service temporarily unavailable");
}

#[tokio::test]
async fn a_policy_file_narrows_the_defaults() {
    let keystone = Keystone::shared();
    let settings = keystone.settings();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(
        &path,
        r#"{"messages:create": "role:member and not role:manager"}"#,
    )
    .unwrap();
    let policy = cairn::auth::Policy::load(&path).unwrap();
    let server = TestServer::custom(real_clock(), |s| {
        s.auth.keystone = Some(settings);
        s.auth.policy = policy;
    })
    .await;
    let alpha = keystone.project("alpha");
    let alice = as_user(&server, &alpha, &keystone.token("alice", "alpha").await);
    let carol = as_user(&server, &alpha, &keystone.token("carol", "alpha").await);
    let root = as_user(&server, &alpha, &keystone.token("root", "alpha").await);
    alice.create_queue("q", &json!({})).await;
    alice.post_messages("q", &[json!({"body": 1})]).await;
    let body = json!({"messages": [{"body": 2}]});
    carol
        .post("/v2/queues/q/messages", &body)
        .await
        .expect_error(403, "Not authorized");
    // root is admin, which implies manager: the rule's `not` excludes it.
    root.post("/v2/queues/q/messages", &body)
        .await
        .expect_error(403, "Not authorized");
    carol
        .get("/v2/queues/q/messages?echo=true")
        .await
        .expect(200);
}

/// Headers of a signed request, as `share` answered.
fn signed(client: &Client, url: &Value) -> Client {
    let join = |key: &str| {
        url[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    };
    Client::new(
        &client.url(""),
        &new_uuid(),
        url["project"].as_str().unwrap(),
    )
    .with_header("URL-Signature", url["signature"].as_str().unwrap())
    .with_header("URL-Expires", url["expires"].as_str().unwrap())
    .with_header("URL-Methods", &join("methods"))
    .with_header("URL-Paths", &join("paths"))
}

/// A Keystone server where alice (of alpha) has a queue `shared` holding one message,
/// whose id is returned, and a queue `private` holding a secret.
async fn shared_and_private(keystone: &Keystone) -> (TestServer, Client, String, String) {
    let server = keystone_server(keystone).await;
    let alpha = keystone.project("alpha");
    let alice = as_user(&server, &alpha, &keystone.token("alice", "alpha").await);
    alice.create_queue("shared", &json!({})).await;
    alice.create_queue("private", &json!({})).await;
    let id = alice
        .post_messages("shared", &[json!({"body": "hello"})])
        .await[0]
        .clone();
    alice
        .post_messages("private", &[json!({"body": "secret"})])
        .await;
    (server, alice, alpha, id)
}

#[tokio::test]
async fn signed_urls_reach_only_what_they_sign() {
    let keystone = Keystone::shared();
    let (server, alice, alpha, id) = shared_and_private(keystone).await;

    let r = alice
        .post(
            "/v2/queues/shared/share",
            &json!({"methods": ["GET", "POST"]}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["paths"], json!(["/v2/queues/shared/messages"]));
    assert_eq!(r.body["methods"], json!(["GET", "POST"]));
    assert_eq!(r.body["project"], alpha);
    let url = r.body.clone();
    let bearer = signed(&alice, &url);

    // What is signed works without a token ...
    let listed = bearer.get("/v2/queues/shared/messages?echo=true").await;
    listed.expect(200);
    assert_eq!(listed.messages().len(), 1);
    bearer
        .get(&format!("/v2/queues/shared/messages/{id}"))
        .await
        .expect(200);
    bearer
        .post(
            "/v2/queues/shared/messages",
            &json!({"messages": [{"body": 2}]}),
        )
        .await
        .expect(201);
    // ... and nothing else: another method, path, queue or project is a 404.
    bearer
        .delete(&format!("/v2/queues/shared/messages/{id}"))
        .await
        .expect(404);
    bearer
        .post("/v2/queues/shared/claims", &json!({}))
        .await
        .expect(404);
    bearer
        .get("/v2/queues/private/messages?echo=true")
        .await
        .expect(404);
    bearer.get("/v2/queues").await.expect(404);
    bearer
        .with_project(&keystone.project("beta"))
        .get("/v2/queues/shared/messages")
        .await
        .expect(404);
    bearer
        .with_header("URL-Paths", "/v2/queues/private/messages")
        .get("/v2/queues/private/messages")
        .await
        .expect(404);
    bearer
        .with_header("URL-Signature", &"0".repeat(64))
        .get("/v2/queues/shared/messages")
        .await
        .expect(404);
    let r = bearer.get("/v2/queues/private/messages").await;
    assert_eq!(
        r.body,
        json!({"title": "404 Not Found"}),
        "falcon's bare 404"
    );
    // Expired: the server's clock passes `expires`.
    server.advance(86_401);
    bearer.get("/v2/queues/shared/messages").await.expect(404);
}

#[tokio::test]
async fn share_validates_its_document() {
    let server = TestServer::custom(real_clock(), |s| {
        s.auth.signing_key = Some(b"k".to_vec());
    })
    .await;
    let c = server.client();
    let share = "/v2/queues/q/share";
    c.send_raw(Method::POST, share, "not json")
        .await
        .expect(400);
    for body in [
        json!({"dummy": 1}),
        json!({"expires": "wrong date format"}),
        json!({"expires": "1999"}),
        json!({"expires": "2015-01-01T00:00:00"}),
        json!({"methods": "GET"}),
        json!({"paths": ["notallowed"]}),
    ] {
        c.post(share, &body).await.expect(400);
    }
    let r = c
        .post(
            share,
            &json!({"paths": ["claims", "messages"], "expires": "2099-01-01T01:00:00+01:00"}),
        )
        .await;
    r.expect(200);
    assert_eq!(
        r.body["paths"],
        json!(["/v2/queues/q/claims", "/v2/queues/q/messages"])
    );
    assert_eq!(r.body["methods"], json!(["GET"]));
    assert_eq!(r.body["expires"], "2099-01-01T00:00:00");
    // The signature is Zaqar's: the same inputs signed by Zaqar's algorithm.
    let expected = cairn::auth::signed_url::sign(
        b"k",
        &["/v2/queues/q/claims", "/v2/queues/q/messages"],
        &["GET"],
        &c.project,
        Timestamp(4_070_908_800_000),
    );
    assert_eq!(r.body["signature"], expected.signature);

    // Without a signing key, share is a clear 400, and signed requests fail.
    let keyless = TestServer::start().await;
    let k = keyless.client();
    let r = k.post(share, &json!({})).await;
    r.expect_error(400, "Invalid API request");
    assert!(r.description().contains("--signing-key"));
    k.with_header("URL-Signature", &"0".repeat(64))
        .with_header("URL-Expires", "2099-01-01T00:00:00")
        .with_header("URL-Methods", "GET")
        .with_header("URL-Paths", "/v2/queues/q/messages")
        .get("/v2/queues/q/messages")
        .await
        .expect(404);
}

#[tokio::test]
async fn websocket_binds_to_the_token() {
    let keystone = Keystone::shared();
    let server = keystone_server(keystone).await;
    let (alpha, beta) = (keystone.project("alpha"), keystone.project("beta"));
    let token = keystone.token("alice", "alpha").await;
    let mut ws = WsClient::connect(&server, Codec::Json, &new_uuid(), &alpha).await;

    // Before authenticate: Zaqar's 403.
    ws.send("queue_list", json!({}))
        .await
        .expect_error_text(403, "Not authentified.");
    let mut headers = ws.headers();
    headers["X-Auth-Token"] = json!("garbage");
    let r = ws
        .send_with_headers("authenticate", headers.clone(), json!({}))
        .await;
    r.expect(401);
    assert_eq!(r.body["error"], "Authentication failed.");
    assert_eq!(r.request["headers"], json!({}), "the token is not echoed");
    headers["X-Auth-Token"] = json!(token);
    let r = ws
        .send_with_headers("authenticate", headers.clone(), json!({}))
        .await;
    r.expect(200);
    assert_eq!(r.body["message"], "Authentified.");

    ws.send("queue_create", json!({"queue_name": "wsq"}))
        .await
        .expect(201);
    ws.send(
        "message_post",
        json!({"queue_name": "wsq", "messages": [{"body": 1}]}),
    )
    .await
    .expect(201);
    // A frame naming another project is refused (Zaqar 23.0.1's fix).
    let mut other = ws.headers();
    other["X-Project-ID"] = json!(beta);
    ws.send_with_headers(
        "message_list",
        other,
        json!({"queue_name": "wsq", "echo": true}),
    )
    .await
    .expect(403);

    // Bob, bound to beta, does not see alpha's queue.
    let bob_token = keystone.token("bob", "beta").await;
    let mut bob = WsClient::connect(&server, Codec::MsgPack, &new_uuid(), &beta).await;
    bob.authenticate(&bob_token).await.expect(200);
    let r = bob.send("queue_list", json!({})).await;
    r.expect(200);
    assert!(r.body["queues"].as_array().unwrap().is_empty());

    // A failed re-authentication ends the binding.
    headers["X-Auth-Token"] = json!("garbage");
    ws.send_with_headers("authenticate", headers, json!({}))
        .await
        .expect(401);
    ws.send("queue_list", json!({}))
        .await
        .expect_error_text(403, "Not authentified.");
}

#[tokio::test]
async fn websocket_signed_frames_reach_only_the_signed_queue() {
    let (server, alice, alpha, _) = shared_and_private(Keystone::shared()).await;
    let url = alice
        .post(
            "/v2/queues/shared/share",
            &json!({"methods": ["GET", "POST"]}),
        )
        .await
        .body
        .clone();
    let mut ws = WsClient::connect(&server, Codec::Json, &new_uuid(), &alpha).await;
    let mut headers = ws.headers();
    for (header, key) in [
        ("URL-Signature", "signature"),
        ("URL-Expires", "expires"),
        ("URL-Methods", "methods"),
        ("URL-Paths", "paths"),
    ] {
        headers[header] = url[key].clone();
    }
    let post = json!({"queue_name": "shared", "messages": [{"body": "hi"}]});
    ws.send_with_headers("message_post", headers.clone(), post)
        .await
        .expect(201);
    let r = ws
        .send_with_headers(
            "message_list",
            headers.clone(),
            json!({"queue_name": "shared", "echo": true}),
        )
        .await;
    r.expect(200);
    // Zaqar lets such a frame act on any queue of the project; Cairn does not.
    ws.send_with_headers(
        "message_list",
        headers.clone(),
        json!({"queue_name": "private", "echo": true}),
    )
    .await
    .expect_error_text(403, "Not authentified.");
    ws.send_with_headers(
        "queue_delete",
        headers.clone(),
        json!({"queue_name": "shared"}),
    )
    .await
    .expect_error_text(403, "Not authentified.");
    headers["URL-Signature"] = json!("");
    ws.send_with_headers(
        "message_list",
        headers,
        json!({"queue_name": "shared", "echo": true}),
    )
    .await
    .expect_error_text(403, "Not authentified.");
}

#[tokio::test]
async fn websocket_sessions_end_when_the_token_expires() {
    let keystone = Keystone::start(5);
    let server = keystone_server(&keystone).await;
    let alpha = keystone.project("alpha");
    let token = keystone.token("alice", "alpha").await;
    let mut ws = WsClient::connect(&server, Codec::Json, &new_uuid(), &alpha).await;
    ws.authenticate(&token).await.expect(200);
    ws.send("queue_list", json!({})).await.expect(200);
    let end = ws.wait_end(Duration::from_secs(15)).await;
    let Some((_, Frame::Close(Some((code, reason))))) = end else {
        panic!("expected a close frame, got {end:?}");
    };
    assert_eq!(code, 4003);
    assert_eq!(reason, "Authentication expired.");
}

#[tokio::test]
async fn without_authentication_each_frame_names_its_project() {
    let server = TestServer::start().await;
    let (a, b) = (format!("a-{}", new_uuid()), format!("b-{}", new_uuid()));
    let mut ws = WsClient::connect(&server, Codec::Json, &new_uuid(), &a).await;
    let r = ws.send("authenticate", json!({})).await;
    r.expect(200);
    let mut in_b = ws.headers();
    in_b["X-Project-ID"] = json!(b);
    ws.send("queue_create", json!({"queue_name": "mine"}))
        .await
        .expect(201);
    ws.send(
        "subscription_create",
        json!({"queue_name": "mine", "ttl": 600}),
    )
    .await
    .expect(201);
    // Project b has no such queue, and posts there do not reach a's push subscription.
    let r = ws
        .send_with_headers("queue_list", in_b.clone(), json!({}))
        .await;
    r.expect(200);
    assert!(r.body["queues"].as_array().unwrap().is_empty());
    ws.send_with_headers(
        "message_post",
        in_b,
        json!({"queue_name": "mine", "messages": [{"body": "b"}]}),
    )
    .await
    .expect(201);
    ws.expect_no_push(Duration::from_millis(300)).await;
    ws.send(
        "message_post",
        json!({"queue_name": "mine", "messages": [{"body": "a"}]}),
    )
    .await
    .expect(201);
    assert_eq!(ws.recv_push().await["body"], "a");
}

#[tokio::test]
async fn cors_answers_preflights_for_allowed_origins() {
    let server = TestServer::custom(real_clock(), |s| {
        s.cors = Some(cairn::transports::http::CorsSettings {
            allowed_origins: vec!["https://console.example".into()],
            allow_credentials: false,
            max_age: Some(600),
        });
    })
    .await;
    let http = reqwest::Client::new();
    let preflight = |origin: &str| {
        http.request(
            Method::OPTIONS,
            format!("{}/v2/queues/q/messages", server.base),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "client-id, x-project-id")
    };
    let r = preflight("https://console.example").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "https://console.example");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-project-id"));
    assert_eq!(h["access-control-max-age"], "600");
    let r = preflight("https://evil.example").send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let c = server.client();
    let r = c
        .send(
            c.request(Method::GET, "/v2/queues")
                .header("Origin", "https://console.example"),
        )
        .await;
    r.expect(200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://console.example")
    );
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("x-openstack-request-id"));
    // Without --cors-allowed-origin, no CORS headers at all.
    let plain = TestServer::start().await;
    let c = plain.client();
    let r = c
        .send(
            c.request(Method::GET, "/v2/queues")
                .header("Origin", "https://console.example"),
        )
        .await;
    assert!(r.header("access-control-allow-origin").is_none());
}
