//! `trust+http(s)` subscribers under Keystone (a real Keystone, `common::keystone`): the
//! subscription gets a trust from its creator to the trustee (Cairn's service user), and
//! each delivery carries a token through it, which Keystone says is trust-scoped. As in
//! OpenStack's own API tests, such a subscriber may be Cairn itself, posting into another
//! queue of the project.

use std::time::Duration;

use crate::common::keystone::{real_clock, wall_clock, Keystone};
use crate::common::receiver::Receiver;
use crate::common::ws::{Codec, WsClient};
use crate::common::{new_uuid, Client, TestServer};
use cairn::auth::AuthSettings;
use serde_json::{json, Value};

/// A Keystone-authenticated server that delivers notifications to 127.0.0.1.
async fn server(keystone: &Keystone) -> TestServer {
    let settings = keystone.settings();
    let allow = ["127.0.0.1/32"];
    TestServer::custom(real_clock(), |s| {
        s.auth = AuthSettings {
            keystone: Some(settings),
            ..Default::default()
        };
        s.notify = Some(crate::common::notify_settings(&allow));
        s.limits = crate::common::notify_limits(&allow);
    })
    .await
}

fn as_user(server: &TestServer, project: &str, token: &str) -> Client {
    Client::new(&server.base, &new_uuid(), project).with_header("X-Auth-Token", token)
}

/// The options of a subscription, as the API shows them.
async fn options(c: &Client, queue: &str, id: &str) -> Value {
    let r = c
        .get(&format!("/v2/queues/{queue}/subscriptions/{id}"))
        .await;
    r.expect(200);
    r.body["options"].clone()
}

#[tokio::test]
async fn a_trust_subscriber_gets_a_trust_scoped_token_with_each_delivery() {
    let keystone = Keystone::shared();
    let server = server(keystone).await;
    let receiver = Receiver::start().await;
    let alpha = keystone.project("alpha");
    let alice = as_user(&server, &alpha, &keystone.token("alice", "alpha").await);

    let r = alice
        .post(
            "/v2/queues/tq/subscriptions",
            &json!({"subscriber": format!("trust+{}", receiver.url("/hook")), "ttl": 3600}),
        )
        .await;
    r.expect(201);
    let id = r.body["subscription_id"].as_str().unwrap().to_owned();
    let trust_id = options(&alice, "tq", &id).await["trust_id"]
        .as_str()
        .expect("the subscription names its trust")
        .to_owned();

    // The trust, as Keystone holds it: from alice to the trustee, in alpha, impersonating
    // her, with her roles, until the subscription's end.
    let (status, trust) = keystone
        .admin_get(&format!("/v3/OS-TRUST/trusts/{trust_id}"), &[])
        .await;
    assert_eq!(status, 200, "{trust}");
    let trust = &trust["trust"];
    assert_eq!(trust["trustor_user_id"], keystone.user("alice"), "{trust}");
    assert_eq!(trust["trustee_user_id"], keystone.user("cairn"), "{trust}");
    assert_eq!(trust["project_id"], alpha, "{trust}");
    assert_eq!(trust["impersonation"], true, "{trust}");
    let roles: Vec<&str> = trust["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(roles.contains(&"member"), "{trust}");
    let expires = trust["expires_at"].as_str().expect("the trust expires");
    let expires = cairn::model::Timestamp::parse_rfc3339(expires).unwrap();
    let in_an_hour = wall_clock().plus_secs(3600);
    assert!(
        (expires.0 - in_an_hour.0).abs() < 60_000,
        "the trust expires with the subscription: {trust}"
    );

    // A delivery, without the prefix, carrying a token that Keystone says is trust-scoped
    // and acts as alice.
    alice.post_one("tq", json!({"n": 1})).await;
    let got = receiver.wait_for("/hook", 1, Duration::from_secs(10)).await;
    let token = got[0].header("x-auth-token").expect("a token").to_owned();
    let (status, info) = keystone
        .admin_get("/v3/auth/tokens", &[("X-Subject-Token", &token)])
        .await;
    assert_eq!(
        status, 200,
        "Keystone validates the delivered token: {info}"
    );
    assert_eq!(info["token"]["OS-TRUST:trust"]["id"], trust_id, "{info}");
    assert_eq!(
        info["token"]["user"]["id"],
        keystone.user("alice"),
        "{info}"
    );
    assert_eq!(info["token"]["project"]["id"], alpha, "{info}");

    // Each delivery gets a token of its own.
    alice.post_one("tq", json!({"n": 2})).await;
    let got = receiver.wait_for("/hook", 2, Duration::from_secs(10)).await;
    assert_ne!(got[1].header("x-auth-token"), Some(token.as_str()));

    // Deleted, the subscription delivers no more.
    alice
        .delete(&format!("/v2/queues/tq/subscriptions/{id}"))
        .await
        .expect(204);
    alice.post_one("tq", json!({"n": 3})).await;
    receiver
        .stays_at("/hook", 2, Duration::from_millis(1500))
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_expired_trust_subscription_delivers_no_more() {
    let keystone = Keystone::shared();
    let server = server(keystone).await;
    let receiver = Receiver::start().await;
    let alpha = keystone.project("alpha");
    let alice = as_user(&server, &alpha, &keystone.token("alice", "alpha").await);
    alice
        .post(
            "/v2/queues/tx/subscriptions",
            &json!({"subscriber": format!("trust+{}", receiver.url("/x")), "ttl": 60}),
        )
        .await
        .expect(201);
    alice.post_one("tx", json!("before")).await;
    receiver.wait_for("/x", 1, Duration::from_secs(10)).await;

    server.advance(61);
    server.sweep().await;
    alice.post_one("tx", json!("after")).await;
    receiver
        .stays_at("/x", 1, Duration::from_millis(1500))
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_trust_subscriber_posts_into_another_queue_of_its_project() {
    // As OpenStack's API tests do it: the subscriber is Cairn's own messages URL of
    // another queue, with the body and headers that post needs.
    let keystone = Keystone::shared();
    let server = server(keystone).await;
    let alpha = keystone.project("alpha");
    let alice = as_user(&server, &alpha, &keystone.token("alice", "alpha").await);
    let subscriber = format!("trust+{}/v2/queues/other/messages", server.base);
    let post_data = json!({"messages": [{"body": "$zaqar_message$", "ttl": 60}]}).to_string();
    let options = json!({
        "post_data": post_data,
        "post_headers": {"X-Project-ID": alpha, "Client-ID": new_uuid()},
    });
    alice
        .post(
            "/v2/queues/source/subscriptions",
            &json!({"subscriber": subscriber, "ttl": 1200, "options": options}),
        )
        .await
        .expect(201);
    alice
        .post_one("source", json!({"event": "created", "n": 7}))
        .await;

    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let forwarded = loop {
        let r = alice
            .get("/v2/queues/other/messages?echo=true&include_claimed=true")
            .await;
        if r.status == 200 && !r.messages().is_empty() {
            break r.messages()[0].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing reached the other queue: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        forwarded["body"]["body"],
        json!({"event": "created", "n": 7}),
        "{forwarded}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn without_keystone_a_trust_subscriber_is_a_plain_webhook() {
    let allow = ["127.0.0.1/32"];
    let server = TestServer::custom(real_clock(), |s| {
        s.notify = Some(crate::common::notify_settings(&allow));
        s.limits = crate::common::notify_limits(&allow);
    })
    .await;
    let receiver = Receiver::start().await;
    let c = server.client();
    let r = c
        .post(
            "/v2/queues/plain/subscriptions",
            &json!({"subscriber": format!("trust+{}", receiver.url("/p")), "ttl": 3600}),
        )
        .await;
    r.expect(201);
    let id = r.body["subscription_id"].as_str().unwrap().to_owned();
    assert_eq!(options(&c, "plain", &id).await, json!({}));
    c.post_one("plain", json!(1)).await;
    let got = receiver.wait_for("/p", 1, Duration::from_secs(10)).await;
    assert_eq!(got[0].header("x-auth-token"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn a_trust_subscription_made_over_websocket_gets_its_trust_too() {
    let keystone = Keystone::shared();
    let server = server(keystone).await;
    let receiver = Receiver::start().await;
    let alpha = keystone.project("alpha");
    let token = keystone.token("alice", "alpha").await;
    let mut ws = WsClient::connect(&server, Codec::MsgPack, &new_uuid(), &alpha).await;
    ws.authenticate(&token).await.expect(200);
    let r = ws
        .send(
            "subscription_create",
            json!({"queue_name": "wq", "subscriber": format!("trust+{}", receiver.url("/w")),
                   "ttl": 600}),
        )
        .await;
    r.expect(201);
    let id = r.body["subscription_id"].as_str().unwrap().to_owned();
    let alice = as_user(&server, &alpha, &token);
    let trust_id = options(&alice, "wq", &id).await["trust_id"]
        .as_str()
        .expect("a trust")
        .to_owned();
    ws.send(
        "message_post",
        json!({"queue_name": "wq", "messages": [{"body": "over ws"}]}),
    )
    .await
    .expect(201);
    let got = receiver.wait_for("/w", 1, Duration::from_secs(10)).await;
    let delivered = got[0].header("x-auth-token").expect("a token");
    let (status, info) = keystone
        .admin_get("/v3/auth/tokens", &[("X-Subject-Token", delivered)])
        .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["token"]["OS-TRUST:trust"]["id"], trust_id, "{info}");
    server.shutdown().await;
}
