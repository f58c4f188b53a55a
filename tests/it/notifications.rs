//! Notification delivery against a real HTTP receiver: Zaqar's webhook payload and headers,
//! retries on server errors and their timing under the test clock, dead-lettering, the
//! confirmation flow, deletion and expiry, project isolation, the SSRF guard and signed
//! webhooks, and resuming after a restart. Every attempt is checked in the log too.

use std::sync::Arc;
use std::time::Duration;

use crate::common;
use crate::common::receiver::Receiver;
use crate::common::smtp::SmtpSink;
use crate::common::{Client, TestServer, START};
use base64::Engine as _;
use cairn::model::{Limits, ManualClock, Timestamp};
use cairn::notify::signing::SigningKey;
use cairn::notify::NotifySettings;
use cairn::transports::websocket::WsSettings;
use hmac::Mac;
use serde_json::{json, Value};
use tempfile::TempDir;

const SOON: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(700);

fn settings(allow: &[&str]) -> NotifySettings {
    common::notify_settings(allow)
}

fn limits(allow: &[&str]) -> Limits {
    common::notify_limits(allow)
}

async fn open(dir: Arc<TempDir>, limits: Limits, notify: NotifySettings) -> TestServer {
    let store = common::store_url(&dir).await;
    let clock = ManualClock::starting_at(START);
    TestServer::with_notify(
        dir,
        store,
        clock,
        limits,
        WsSettings::default(),
        Some(notify),
    )
    .await
}

/// A server that may notify 127.0.0.1.
async fn server() -> TestServer {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    open(dir, limits(&["127.0.0.1/32"]), settings(&["127.0.0.1/32"])).await
}

async fn subscribe(c: &Client, queue: &str, subscriber: &str, options: Value) -> String {
    let r = c
        .post(
            &format!("/v2/queues/{queue}/subscriptions"),
            &json!({"subscriber": subscriber, "ttl": 3600, "options": options}),
        )
        .await;
    r.expect(201);
    r.body["subscription_id"].as_str().unwrap().to_owned()
}

/// The events of a message's history, waiting (at most 10 s) until one of type `kind`
/// appears `n` times.
async fn history_with(c: &Client, queue: &str, id: &str, kind: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + SOON;
    loop {
        let r = c
            .get(&format!("/v2/queues/{queue}/messages/{id}/history"))
            .await;
        r.expect(200);
        let events = r.body["events"].as_array().cloned().unwrap_or_default();
        if events.iter().filter(|e| e["type"] == kind).count() >= n {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {n} × {kind} in the history of {id}: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[tokio::test]
async fn webhooks_carry_zaqars_payload_and_headers_in_post_order() {
    let rx = Receiver::start().await;
    let s = server().await;
    let c = s.client();
    let options = json!({"post_headers": {"X-Hook-Key": "abc"}});
    let sub = subscribe(&c, "orders", &rx.url("/hook"), options).await;
    let ids = c
        .post_messages(
            "orders",
            &[
                json!({"body": {"n": 1}, "ttl": 300}),
                json!({"body": {"n": 2}, "ttl": 300}),
                json!({"body": {"n": 3}, "ttl": 300}),
            ],
        )
        .await;
    let got = rx.wait_for("/hook", 3, SOON).await;
    for (i, r) in got.iter().enumerate() {
        assert_eq!(
            r.json(),
            json!({"ttl": 300, "body": {"n": i + 1}, "Message_Type": "Notification",
                   "queue_name": "orders"}),
            "{r:?}"
        );
        assert_eq!(r.header("x-hook-key"), Some("abc"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let events = history_with(&c, "orders", &ids[0], "NotificationDelivered", 1).await;
    let delivered = of_type(&events, "NotificationDelivered")[0];
    assert_eq!(delivered["event"]["subscription_id"], sub.as_str());
    assert_eq!(delivered["event"]["attempt"], 1);
    assert_eq!(delivered["event"]["status"], 200);
    assert_eq!(delivered["event"]["message_id"], ids[0].as_str());
    assert!(delivered["client_id"].is_null());
    // The feed shows the three deliveries (gathered per subscription as they are recorded
    // together); /metrics counts them.
    let feed = c.get("/v2/events?type=NotificationDelivered").await;
    let delivered: Vec<Value> = feed.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["event"]["deliveries"].as_array().unwrap().clone())
        .collect();
    let delivered_ids: Vec<&str> = delivered
        .iter()
        .map(|d| d["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(delivered_ids, ids, "{feed:?}");
    let metrics = c
        .bare(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("cairn_notifications_total{outcome=\"delivered\"} 3"),
        "{text}"
    );
    assert!(text.contains("cairn_notifier_checkpoint"), "{text}");
}

#[tokio::test]
async fn server_errors_are_retried_until_the_subscriber_accepts() {
    let rx = Receiver::start().await;
    rx.answer(&[500, 503]);
    let s = server().await;
    let c = s.client();
    subscribe(&c, "q", &rx.url("/hook"), json!({})).await;
    let id = c.post_one("q", json!({"k": "v"})).await;
    rx.wait_for("/hook", 3, SOON).await;
    let events = history_with(&c, "q", &id, "NotificationDelivered", 1).await;
    let failed = of_type(&events, "NotificationFailed");
    assert_eq!(failed.len(), 2, "{events:#?}");
    assert_eq!(failed[0]["event"]["attempt"], 1);
    assert_eq!(failed[0]["event"]["status"], 500);
    assert_eq!(failed[1]["event"]["attempt"], 2);
    assert_eq!(failed[1]["event"]["status"], 503);
    // Immediate retries first (retries_with_no_delay = 3 by default).
    assert_eq!(failed[0]["event"]["retry_at"], START.0);
    let delivered = of_type(&events, "NotificationDelivered");
    assert_eq!(delivered[0]["event"]["attempt"], 3);
    rx.stays_at("/hook", 3, QUIET).await;
}

#[tokio::test]
async fn backoff_follows_the_retry_policy_on_the_clock_then_dead_letters() {
    let rx = Receiver::start().await;
    rx.answer(&[500; 10]);
    let s = server().await;
    let c = s.client();
    // Delays: 5 (minimum_delay_retries), then linear 5, 10 (range(5, 15, 5)).
    let policy = json!({"retries_with_no_delay": 0, "minimum_delay_retries": 1,
        "minimum_delay": 5, "maximum_delay": 15, "maximum_delay_retries": 0});
    let options = json!({"_retry_policy": policy, "_dead_letter_queue": "undelivered"});
    subscribe(&c, "q", &rx.url("/hook"), options).await;
    let id = c.post_one("q", json!({"order": 7})).await;
    // Each retry is scheduled from the instant its failure is recorded: the clock moves
    // only once it is (a busy host may record it well after the receiver answered).
    rx.wait_for("/hook", 1, SOON).await;
    history_with(&c, "q", &id, "NotificationFailed", 1).await;
    rx.stays_at("/hook", 1, QUIET).await;
    s.advance(5);
    rx.wait_for("/hook", 2, SOON).await;
    history_with(&c, "q", &id, "NotificationFailed", 2).await;
    rx.stays_at("/hook", 2, QUIET).await;
    s.advance(5);
    rx.wait_for("/hook", 3, SOON).await;
    history_with(&c, "q", &id, "NotificationFailed", 3).await;
    s.advance(9);
    rx.stays_at("/hook", 3, QUIET).await;
    s.advance(1);
    rx.wait_for("/hook", 4, SOON).await;
    let events = history_with(&c, "q", &id, "NotificationAbandoned", 1).await;
    let failed = of_type(&events, "NotificationFailed");
    assert_eq!(failed.len(), 4, "{events:#?}");
    let retry_at: Vec<Value> = failed
        .iter()
        .map(|f| f["event"]["retry_at"].clone())
        .collect();
    assert_eq!(
        retry_at,
        [
            json!(START.0 + 5_000),
            json!(START.0 + 10_000),
            json!(START.0 + 20_000),
            Value::Null
        ]
    );
    let abandoned = of_type(&events, "NotificationAbandoned")[0];
    assert_eq!(abandoned["event"]["attempts"], 4);
    assert_eq!(abandoned["event"]["dead_letter_queue"], "undelivered");
    // The notification waits in the dead-letter queue, with why it was given up.
    let dead = c.get("/v2/queues/undelivered/messages?echo=true").await;
    dead.expect(200);
    let body = &dead.body["messages"][0]["body"];
    assert_eq!(body["Message_Type"], "NotificationAbandoned", "{dead:?}");
    assert_eq!(body["message_id"], id.as_str());
    assert_eq!(body["attempts"], 4);
    assert_eq!(body["notification"]["body"]["order"], 7);
    assert!(body["reason"].as_str().unwrap().contains("500"), "{body}");
}

#[tokio::test]
async fn deleted_and_expired_subscriptions_are_not_notified_and_projects_stay_apart() {
    let rx = Receiver::start().await;
    let s = server().await;
    let a = s.client();
    let b = s.client();
    let sub_a = subscribe(&a, "q", &rx.url("/a"), json!({})).await;
    subscribe(&b, "q", &rx.url("/b"), json!({})).await;
    a.post_n("q", 2).await;
    b.post_one("q", json!({"from": "b"})).await;
    rx.wait_for("/a", 2, SOON).await;
    let got_b = rx.wait_for("/b", 1, SOON).await;
    assert_eq!(got_b[0].json()["body"], json!({"from": "b"}));
    a.delete(&format!("/v2/queues/q/subscriptions/{sub_a}"))
        .await
        .expect(204);
    a.post_n("q", 1).await;
    rx.stays_at("/a", 2, QUIET).await;
    rx.stays_at("/b", 1, Duration::ZERO).await;
    // A subscription that expired is not notified either.
    let r = a
        .post(
            "/v2/queues/short/subscriptions",
            &json!({"subscriber": rx.url("/short"), "ttl": 60}),
        )
        .await;
    r.expect(201);
    s.advance(61);
    a.post_n("short", 1).await;
    rx.stays_at("/short", 0, QUIET).await;
}

#[tokio::test]
async fn confirmation_is_required_before_delivery() {
    let rx = Receiver::start().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut notify = settings(&["127.0.0.1/32"]);
    notify.confirmation_key = Some(b"confirm-secret".to_vec());
    let limits = Limits {
        require_confirmation: true,
        ..limits(&["127.0.0.1/32"])
    };
    let s = open(dir, limits, notify).await;
    let c = s.client();
    let id = subscribe(&c, "q", &rx.url("/hook"), json!({})).await;
    let got = rx.wait_for("/hook", 1, SOON).await;
    let doc = got[0].json();
    let path = format!("/v2/queues/q/subscriptions/{id}/confirm");
    assert_eq!(doc["Message_Type"], "SubscriptionConfirmation", "{doc}");
    assert_eq!(doc["URL-Paths"], path.as_str());
    assert_eq!(doc["URL-Methods"], "PUT");
    assert_eq!(doc["X-Project-ID"], c.project.as_str());
    assert_eq!(doc["SubscribeBody"], json!({"confirmed": true}));
    assert_eq!(doc["UnsubscribeBody"], json!({"confirmed": false}));
    assert_eq!(doc["queue_name"], "q");
    let expires = Timestamp(START.0 + 3_600_000);
    assert_eq!(
        doc["URL-Expires"],
        cairn::auth::signed_url::expires_text(expires).as_str()
    );
    let signed =
        cairn::auth::signed_url::sign(b"confirm-secret", &[&path], &["PUT"], &c.project, expires);
    assert_eq!(doc["URL-Signature"], signed.signature.as_str());
    // Nothing is delivered before the subscriber confirms.
    c.post_n("q", 1).await;
    rx.stays_at("/hook", 1, QUIET).await;
    // Subscribing again while unconfirmed sends the request again.
    let again = subscribe(&c, "q", &rx.url("/hook"), json!({})).await;
    assert_eq!(again, id);
    rx.wait_for("/hook", 2, SOON).await;
    // A forged confirmation fails as every bad signature does; the real one succeeds.
    let forged = c
        .request(reqwest::Method::PUT, &path)
        .header("URL-Signature", "0".repeat(64))
        .header("URL-Methods", "PUT")
        .header("URL-Paths", path.as_str())
        .header("URL-Expires", doc["URL-Expires"].as_str().unwrap())
        .json(&json!({"confirmed": true}));
    c.send(forged).await.expect(404);
    rx.stays_at("/hook", 2, QUIET).await;
    // The subscriber confirms with the headers it was given.
    let confirm = c
        .request(reqwest::Method::PUT, &path)
        .header("URL-Signature", doc["URL-Signature"].as_str().unwrap())
        .header("URL-Methods", "PUT")
        .header("URL-Paths", path.as_str())
        .header("URL-Expires", doc["URL-Expires"].as_str().unwrap())
        .json(&json!({"confirmed": true}));
    c.send(confirm).await.expect(204);
    c.post_one("q", json!({"after": "confirm"})).await;
    let got = rx.wait_for("/hook", 3, SOON).await;
    assert_eq!(got[2].json()["body"], json!({"after": "confirm"}));
    // Unconfirming sends the unsubscribe notice and mutes the subscription.
    c.put(&path, &json!({"confirmed": false})).await.expect(204);
    let got = rx.wait_for("/hook", 4, SOON).await;
    assert_eq!(got[3].json()["Message_Type"], "UnsubscribeConfirmation");
    c.post_n("q", 1).await;
    rx.stays_at("/hook", 4, QUIET).await;
}

#[tokio::test]
async fn the_guard_keeps_notifications_from_private_addresses() {
    let rx = Receiver::start().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let s = open(dir, limits(&[]), settings(&[])).await;
    let c = s.client();
    let port = rx.base.rsplit(':').next().unwrap().to_owned();
    // Written as an address, in any spelling, or as a loopback name: refused at creation.
    for subscriber in [
        rx.url("/hook"),
        "http://[::1]:9/".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "https://10.0.0.1/".to_owned(),
        "http://2852039166/".to_owned(),
        "http://0251.0376.0251.0376/".to_owned(),
        "http://0xa9fea9fe/".to_owned(),
        "http://0/".to_owned(),
        format!("http://127.1:{port}/short"),
        format!("http://localhost:{port}/name"),
        "http://localhost./".to_owned(),
    ] {
        let r = c
            .post(
                "/v2/queues/q/subscriptions",
                &json!({"subscriber": subscriber}),
            )
            .await;
        r.expect_error(400, "Invalid API request");
        assert!(r.description().contains("not allowed"), "{r:?}");
    }
    // Another name that resolves there (this machine's own) fails at delivery, after
    // resolution, with the reason recorded.
    let name = own_name().await;
    let no_retry = json!({"_retry_policy": {"retries_with_no_delay": 0,
        "minimum_delay_retries": 0, "maximum_delay_retries": 0,
        "minimum_delay": 0, "maximum_delay": 10}});
    subscribe(&c, "q", &format!("http://{name}:{port}/name"), no_retry).await;
    let id = c.post_one("q", json!({})).await;
    let events = history_with(&c, "q", &id, "NotificationFailed", 1).await;
    let failed = of_type(&events, "NotificationFailed");
    let reason = failed[0]["event"]["reason"].as_str().unwrap();
    assert!(reason.contains("forbidden address"), "{reason}");
    assert!(rx.received().is_empty());
}

/// This machine's host name, which its resolver maps to one of its own addresses: loopback
/// or private, as on any machine or container without a public address of its own.
async fn own_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("the host name");
    let name = name.trim().to_owned();
    let addresses: Vec<std::net::IpAddr> = tokio::net::lookup_host((name.as_str(), 80))
        .await
        .unwrap_or_else(|e| panic!("the host name {name} must resolve: {e}"))
        .map(|a| a.ip())
        .collect();
    let own = |ip: &std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        std::net::IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    assert!(
        addresses.iter().any(own),
        "the host name {name} resolves to {addresses:?}, none of them loopback or private"
    );
    name
}

/// A server that requires confirmation and relays mail to a sink; confirmation mails link
/// to `page`.
async fn mailing_server(page: Option<&str>) -> (SmtpSink, TestServer) {
    let sink = SmtpSink::start().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut notify = settings(&[]);
    notify.confirmation_key = Some(b"confirm-secret".to_vec());
    notify.send.smtp_url = Some(sink.url());
    notify.send.mails.page = page.map(str::to_owned);
    let limits = Limits {
        require_confirmation: true,
        ..limits(&[])
    };
    let server = open(dir, limits, notify).await;
    (sink, server)
}

/// A `mailto:` subscriber's confirmation and unsubscribe requests are Zaqar's mails: its
/// templates, and a link to the configured page carrying what the confirm route needs.
#[tokio::test]
async fn confirmation_mails_follow_zaqars_templates() {
    let (sink, s) = mailing_server(Some("https://confirm.example/page")).await;
    let c = s.client();
    let id = subscribe(&c, "q", "mailto:ops@example.com", json!({})).await;
    let mails = sink.wait_for(1, SOON).await;
    let mail = &mails[0];
    assert_eq!(mail.to, ["ops@example.com"]);
    assert_eq!(mail.from, "no-reply@openstack.org");
    // The display name may be quoted: `"Zaqar Notifications" <no-reply@openstack.org>`.
    let from = mail.header("From").unwrap_or_default().replace('"', "");
    assert_eq!(from, "Zaqar Notifications <no-reply@openstack.org>");
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Zaqar Notification - Subscription Confirmation")
    );
    let body = mail.body();
    let intro = format!(
        "You have chosen to subscribe to the queue: q. This queue belongs to project: {}. \
         To confirm this subscription, click or visit this link below: ",
        c.project
    );
    assert!(body.starts_with(&intro), "{body}");
    // The link carries Zaqar's parameters, and they confirm through the API.
    let link = url::Url::parse(body[intro.len()..].trim()).expect("a link");
    assert_eq!(
        link.as_str().split('?').next(),
        Some("https://confirm.example/page")
    );
    let param = |name: &str| {
        link.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {link}"))
    };
    let path = format!("/v2/queues/q/subscriptions/{id}/confirm");
    assert_eq!(param("Paths"), path);
    assert_eq!(param("Methods"), "PUT");
    assert_eq!(param("Project"), c.project);
    assert_eq!(param("Queue"), "q");
    assert_eq!(param("Url"), "");
    let confirm = c
        .request(reqwest::Method::PUT, &path)
        .header("URL-Signature", param("Signature"))
        .header("URL-Methods", param("Methods"))
        .header("URL-Paths", param("Paths"))
        .header("URL-Expires", param("Expires"))
        .json(&json!({"confirmed": true}));
    c.send(confirm).await.expect(204);
    // Unconfirming sends the unsubscribe mail.
    c.put(&path, &json!({"confirmed": false})).await.expect(204);
    let mails = sink.wait_for(2, SOON).await;
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("Zaqar Notification - Unsubscribe Confirmation")
    );
    let body = mails[1].body();
    assert!(
        body.starts_with(&format!(
            "You have unsubscribed successfully to the queue: q. This queue belongs to project: \
             {}. To resubscribe this subscription, click or visit this link below: \
             https://confirm.example/page?Signature=",
            c.project
        )),
        "{body}"
    );
}

/// Without a confirmation page, a `mailto:` subscriber gets no confirmation mail (as in
/// Zaqar), and the failed attempt says why.
#[tokio::test]
async fn without_a_confirmation_page_no_confirmation_mail_is_sent() {
    let (sink, s) = mailing_server(None).await;
    let c = s.client();
    subscribe(&c, "q", "mailto:ops@example.com", json!({})).await;
    let deadline = std::time::Instant::now() + SOON;
    loop {
        let r = c.get("/v2/events?type=NotificationFailed").await;
        r.expect(200);
        let reasons: Vec<String> = r.body["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["event"]["reason"].as_str().map(str::to_owned))
            .collect();
        if reasons
            .iter()
            .any(|r| r.contains("--external-confirmation-url"))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{reasons:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(QUIET).await;
    assert!(sink.wait_for(0, SOON).await.is_empty());
}

#[tokio::test]
async fn signed_webhooks_verify_with_the_shared_secret() {
    let rx = Receiver::start().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let secret = b"0123456789abcdef-cairn";
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut notify = settings(&["127.0.0.1/32"]);
    notify.send.webhook_key =
        Some(SigningKey::parse(&format!("whsec_{}", b64.encode(secret))).unwrap());
    let s = open(dir, limits(&["127.0.0.1/32"]), notify).await;
    let c = s.client();
    subscribe(&c, "q", &rx.url("/hook"), json!({})).await;
    let id = c.post_one("q", json!({"signed": true})).await;
    let got = rx.wait_for("/hook", 1, SOON).await;
    let r = &got[0];
    assert_eq!(r.header("webhook-id"), Some(id.as_str()));
    let timestamp = r.header("webhook-timestamp").unwrap();
    assert_eq!(timestamp, (START.0 / 1000).to_string());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", r.body).as_bytes());
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("webhook-signature"), Some(expected.as_str()));
}

#[tokio::test]
async fn delivery_resumes_after_a_restart() {
    let rx = Receiver::start().await;
    // The subscriber fails until after the restart; the retry waits on the clock.
    rx.answer(&[503; 4]);
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let s = open(
        dir.clone(),
        limits(&["127.0.0.1/32"]),
        settings(&["127.0.0.1/32"]),
    )
    .await;
    let c = s.client();
    subscribe(&c, "q", &rx.url("/hook"), json!({})).await;
    let id = c.post_one("q", json!({"survives": "restart"})).await;
    rx.wait_for("/hook", 4, SOON).await;
    history_with(&c, "q", &id, "NotificationFailed", 4).await;
    s.shutdown().await;
    let s = open(dir, limits(&["127.0.0.1/32"]), settings(&["127.0.0.1/32"])).await;
    let c = Client::new(&s.base, &c.client_id, &c.project);
    // The restarted engine starts over from its checkpoint, before the post.
    let got = rx.wait_for("/hook", 5, SOON).await;
    assert_eq!(got[4].json()["body"], json!({"survives": "restart"}));
    let events = history_with(&c, "q", &id, "NotificationDelivered", 1).await;
    assert_eq!(
        of_type(&events, "NotificationDelivered")[0]["event"]["attempt"],
        1
    );
    drop(s);
}
