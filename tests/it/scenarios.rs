//! Transport-independent behaviour (reference §5, §6), written once and run over REST, the
//! WebSocket API with JSON frames and the WebSocket API with MessagePack frames.
//!
//! A [`Driver`] speaks one transport and returns normalised results: plain values for
//! successes and, for failures, the status REST would give where the two APIs agree. Where
//! the WebSocket API legitimately differs from REST (reference §7.8: `queue_get` shows the
//! stored metadata without reserved defaults, `message_get_many` never answers 404,
//! `queue_get_stats` answers 404 for a missing queue), the driver normalises; the scenarios
//! never look at the transport.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::common;
use crate::common::ws::{Codec, WsClient, WsResp};
use crate::common::{
    default_metadata, last_segment, metadata_with, new_uuid, Client, Resp, TestServer,
};
use serde_json::{json, Value};
use tokio::sync::Mutex;

// ---- the scenarios -------------------------------------------------------------------------

/// Instantiates every scenario for every driver: `http::name`, `websocket::name` (JSON
/// frames) and `websocket_msgpack::name`.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        scenarios!(@driver http, HttpDriver, $($name),*);
        scenarios!(@driver websocket, WsDriver<JsonFrames>, $($name),*);
        scenarios!(@driver websocket_msgpack, WsDriver<MsgPackFrames>, $($name),*);
    };
    (@driver $module:ident, $driver:ty, $($name:ident),*) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    run::<$driver, _, _>(scenario::$name).await
                }
            )*
        }
    };
}

scenarios!(
    post_then_list,
    claim_hides_messages,
    release_frees_messages,
    delete_needs_claim,
    pop_removes,
    stats_count,
    ttl_limits_rejected,
    dead_letter_after_max_claims,
    delayed_queue_hides_messages,
    expiry_via_clock,
    project_isolation,
    claim_renewal_extends_the_claim,
    claim_expiry_frees_messages,
    queue_lifecycle,
    get_many_returns_what_exists,
    delete_many_removes_claimed_messages,
    subscription_lifecycle,
    purge_empties_the_queue,
    age_follows_the_clock,
    claim_extends_short_lived_messages,
    queue_delete_removes_messages,
    message_ttl_defaults_to_the_queue_default,
    health_reports_the_project_volume,
    claims_take_messages_in_posting_order,
);

/// Starts a server, opens a driver as a fresh client of a fresh project, runs the scenario.
async fn run<D, F, Fut>(scenario: F)
where
    D: Driver,
    F: FnOnce(D) -> Fut,
    Fut: Future<Output = ()>,
{
    let server = Arc::new(TestServer::start().await);
    let project = format!("project-{}", new_uuid());
    let driver = D::connect(server.clone(), &new_uuid(), &project).await;
    scenario(driver).await;
    if let Ok(server) = Arc::try_unwrap(server) {
        server.shutdown().await;
    }
}

mod scenario {
    use super::*;

    fn ids(messages: &[Msg]) -> Vec<String> {
        messages.iter().map(|m| m.id.clone()).collect()
    }

    const ECHO: List = List {
        echo: true,
        include_claimed: false,
        include_delayed: false,
    };
    const ALL: List = List {
        echo: true,
        include_claimed: true,
        include_delayed: true,
    };

    /// A well-formed message id that names nothing.
    const MISSING: &str = "0123456789abcdef01234567";

    pub async fn post_then_list<D: Driver>(producer: D) {
        let consumer = producer.other_client().await;
        let posted = producer
            .post(
                "q",
                json!([{"body": {"n": 0}, "ttl": 300}, {"body": "one"}, {"body": [2]}]),
            )
            .await
            .expect("posted");
        assert_eq!(posted.len(), 3);

        let seen = consumer.list("q", List::default()).await;
        assert_eq!(ids(&seen), posted);
        let bodies: Vec<&Value> = seen.iter().map(|m| &m.body).collect();
        assert_eq!(bodies, [&json!({"n": 0}), &json!("one"), &json!([2])]);
        let ttls: Vec<i64> = seen.iter().map(|m| m.ttl).collect();
        assert_eq!(ttls, [300, 3600, 3600]);
        assert!(seen.iter().all(|m| m.age == 0));

        // The poster's own messages are listed only with echo.
        assert!(producer.list("q", List::default()).await.is_empty());
        assert_eq!(ids(&producer.list("q", ECHO).await), posted);
        // Listing is a peek.
        assert_eq!(consumer.list("q", List::default()).await, seen);
    }

    pub async fn claim_hides_messages<D: Driver>(d: D) {
        let other = d.other_client().await;
        let posted = d
            .post("q", json!([{"body": 0}, {"body": 1}, {"body": 2}]))
            .await;
        let posted = posted.expect("posted");

        let claim = d.claim("q", Some(2), Some(120), Some(60)).await;
        let claim = claim.expect("valid").expect("a claim");
        assert_eq!(ids(&claim.messages), posted[..2]);

        assert_eq!(ids(&other.list("q", List::default()).await), posted[2..]);
        let with_claimed = List {
            include_claimed: true,
            ..List::default()
        };
        assert_eq!(ids(&other.list("q", with_claimed).await), posted);

        let second = other.claim("q", None, None, None).await;
        let second = second.expect("valid").expect("a claim");
        assert_eq!(ids(&second.messages), posted[2..]);
        assert_ne!(second.id, claim.id);
        assert_eq!(other.claim("q", None, None, None).await, Ok(None));
        assert!(d.list("q", ECHO).await.is_empty());
    }

    pub async fn release_frees_messages<D: Driver>(d: D) {
        let posted = d.post("q", json!([{"body": 0}, {"body": 1}])).await;
        let posted = posted.expect("posted");
        let claim = d.claim("q", None, None, None).await.unwrap().unwrap();
        assert!(d.list("q", ECHO).await.is_empty());

        assert_eq!(d.release_claim("q", &claim.id).await, 204);

        assert_eq!(d.get_claim("q", &claim.id).await, Err(404));
        assert_eq!(ids(&d.list("q", ECHO).await), posted);
        let again = d.claim("q", None, None, None).await.unwrap().unwrap();
        assert_eq!(ids(&again.messages), posted);
        // Releasing what no longer exists is harmless.
        assert_eq!(d.release_claim("q", &claim.id).await, 204);
        assert_eq!(
            d.get_claim("q", &again.id).await.map(|c| ids(&c.messages)),
            Ok(posted)
        );
    }

    pub async fn delete_needs_claim<D: Driver>(d: D) {
        let posted = d.post("q", json!([{"body": 0}, {"body": 1}])).await;
        let posted = posted.expect("posted");
        let claim = d.claim("q", Some(1), None, None).await.unwrap().unwrap();
        assert_eq!(ids(&claim.messages), posted[..1]);

        assert_eq!(d.delete_message("q", &posted[0], None).await, 403);
        assert_eq!(d.delete_message("q", &posted[0], Some("nope")).await, 400);
        assert_eq!(
            d.delete_message("q", &posted[1], Some(&claim.id)).await,
            400
        );
        assert!(d.get_message("q", &posted[0]).await.is_ok());

        assert_eq!(
            d.delete_message("q", &posted[0], Some(&claim.id)).await,
            204
        );
        assert_eq!(d.get_message("q", &posted[0]).await, Err(404));
        assert_eq!(d.delete_message("q", &posted[1], None).await, 204);
        assert_eq!(d.get_message("q", &posted[1]).await, Err(404));
        // Deleting what does not exist is 204.
        assert_eq!(d.delete_message("q", MISSING, None).await, 204);
        assert_eq!(d.delete_message("nowhere", MISSING, None).await, 204);
        // The claim went away with its last message.
        assert_eq!(d.get_claim("q", &claim.id).await, Err(404));
    }

    pub async fn pop_removes<D: Driver>(d: D) {
        let body = json!([{"body": 0}, {"body": 1}, {"body": 2}, {"body": 3}, {"body": 4}]);
        let posted = d.post("q", body).await.expect("posted");
        d.claim("q", Some(1), None, None).await.unwrap().unwrap();
        d.advance(2);

        let popped = d.pop("q", 3).await.expect("popped");

        assert_eq!(ids(&popped), posted[1..4]);
        assert_eq!(popped[0].body, json!(1));
        assert_eq!((popped[0].age, popped[0].ttl), (2, 3600));
        assert_eq!(
            ids(&d.list("q", ALL).await),
            [posted[0].clone(), posted[4].clone()]
        );
        assert_eq!(ids(&d.pop("q", 5).await.unwrap()), posted[4..]);
        assert_eq!(d.pop("q", 5).await, Ok(Vec::new()));
        assert_eq!(d.pop("nowhere", 5).await, Ok(Vec::new()));
        assert_eq!(ids(&d.list("q", ALL).await), posted[..1]);
    }

    pub async fn stats_count<D: Driver>(d: D) {
        assert_eq!(d.stats("q").await, Stats::default());
        let posted = d
            .post("q", json!([{"body": 0}, {"body": 1}, {"body": 2}]))
            .await;
        let posted = posted.expect("posted");
        d.claim("q", Some(1), None, None).await.unwrap().unwrap();

        let stats = d.stats("q").await;
        assert_eq!((stats.free, stats.claimed, stats.total), (2, 1, 3));
        assert_eq!(stats.oldest.as_ref(), Some(&posted[0]));
        assert_eq!(stats.newest.as_ref(), Some(&posted[2]));

        assert_eq!(d.delete_message("q", &posted[2], None).await, 204);
        let stats = d.stats("q").await;
        assert_eq!((stats.free, stats.claimed, stats.total), (1, 1, 2));
        assert_eq!(stats.newest.as_ref(), Some(&posted[1]));
        d.create_queue("empty", json!({})).await;
        assert_eq!(d.stats("empty").await, Stats::default());
    }

    pub async fn ttl_limits_rejected<D: Driver>(d: D) {
        for ttl in [59, 1_209_601, -1] {
            let r = d.post("q", json!([{"body": 1, "ttl": ttl}])).await;
            assert_eq!(r, Err(400), "message ttl {ttl}");
        }
        let ok = d
            .post(
                "q",
                json!([{"body": 1, "ttl": 60}, {"body": 2, "ttl": 1_209_600}]),
            )
            .await;
        assert_eq!(ok.map(|ids| ids.len()), Ok(2));

        for (limit, ttl, grace) in [
            (None, Some(59), None),
            (None, Some(43_201), None),
            (None, None, Some(59)),
            (None, None, Some(43_201)),
            (Some(0), None, None),
            (Some(21), None, None),
        ] {
            let r = d.claim("q", limit, ttl, grace).await;
            assert_eq!(
                r,
                Err(400),
                "claim limit {limit:?} ttl {ttl:?} grace {grace:?}"
            );
        }
        for n in [0, 21] {
            assert_eq!(d.pop("q", n).await, Err(400), "pop {n}");
        }
        let r = d
            .create_queue("bad", json!({"_default_message_ttl": 59}))
            .await;
        assert_eq!(r, 400);

        // Nothing was claimed or popped by the refused requests.
        assert_eq!(d.list("q", ECHO).await.len(), 2);
        let claim = d.claim("q", Some(20), Some(60), Some(60)).await;
        let claim = claim.expect("valid").expect("a claim");
        assert_eq!(claim.messages.len(), 2);
        assert_eq!(d.renew_claim("q", &claim.id, 59, 60).await, 400);
        assert_eq!(d.renew_claim("q", &claim.id, 43_201, 60).await, 400);
        assert_eq!(d.renew_claim("q", &claim.id, 43_200, 60).await, 204);
    }

    pub async fn dead_letter_after_max_claims<D: Driver>(d: D) {
        let md = json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq",
                        "_dead_letter_queue_messages_ttl": 120});
        assert_eq!(d.create_queue("work", md).await, 201);
        let posted = d
            .post("work", json!([{"body": {"job": 7}, "ttl": 3600}]))
            .await;
        let id = posted.expect("posted").remove(0);

        let first = d.claim("work", None, None, None).await.unwrap().unwrap();
        assert_eq!(ids(&first.messages), [id.as_str()]);
        assert_eq!(d.release_claim("work", &first.id).await, 204);
        d.advance(10);

        // The second claim finds a message that used up its claims: it moves.
        assert_eq!(d.claim("work", None, None, None).await, Ok(None));
        assert_eq!(d.get_message("work", &id).await, Err(404));
        assert_eq!(d.stats("work").await, Stats::default());

        let moved = d
            .get_message("dlq", &id)
            .await
            .expect("in the dead-letter queue");
        assert_eq!((&moved.body, moved.ttl), (&json!({"job": 7}), 120));
        assert_eq!(ids(&d.list("dlq", ECHO).await), [id.as_str()]);
        assert!(d.list_queues().await.contains(&"dlq".to_owned()));
        let in_dlq = d.claim("dlq", None, None, None).await.unwrap().unwrap();
        assert_eq!(ids(&in_dlq.messages), [id]);
    }

    pub async fn delayed_queue_hides_messages<D: Driver>(d: D) {
        let created = d
            .create_queue("later", json!({"_default_message_delay": 30}))
            .await;
        assert_eq!(created, 201);
        let id = d.post("later", json!([{"body": "patience"}])).await;
        let id = id.expect("posted").remove(0);

        assert!(d.list("later", ECHO).await.is_empty());
        assert_eq!(d.claim("later", None, None, None).await, Ok(None));
        assert_eq!(
            d.get_message("later", &id).await.map(|m| m.body),
            Ok(json!("patience"))
        );
        let stats = d.stats("later").await;
        assert_eq!((stats.free, stats.total), (1, 1));
        let delayed = List {
            include_delayed: true,
            ..ECHO
        };
        assert_eq!(ids(&d.list("later", delayed).await), [id.as_str()]);

        d.advance(29);
        assert!(d.list("later", ECHO).await.is_empty());
        assert_eq!(d.claim("later", None, None, None).await, Ok(None));

        d.advance(2);
        assert_eq!(ids(&d.list("later", ECHO).await), [id.as_str()]);
        let claim = d.claim("later", None, None, None).await.unwrap().unwrap();
        assert_eq!(ids(&claim.messages), [id]);
    }

    pub async fn expiry_via_clock<D: Driver>(d: D) {
        let posted = d
            .post(
                "q",
                json!([{"body": "short", "ttl": 60}, {"body": "long", "ttl": 3600}]),
            )
            .await
            .expect("posted");
        let (short, long) = (&posted[0], &posted[1]);

        d.advance(59);
        let m = d.get_message("q", short).await.expect("still alive");
        assert_eq!((m.age, m.ttl), (59, 60));
        assert_eq!(ids(&d.list("q", ECHO).await), posted);

        d.advance(2);
        assert_eq!(d.get_message("q", short).await, Err(404));
        assert_eq!(ids(&d.list("q", ALL).await), [long.as_str()]);
        let many = d.get_many("q", &[short.clone(), long.clone()]).await;
        assert_eq!(ids(&many), [long.as_str()]);
        assert!(d
            .get_many("q", std::slice::from_ref(short))
            .await
            .is_empty());
        let stats = d.stats("q").await;
        assert_eq!((stats.free, stats.total), (1, 1));
        assert_eq!(stats.oldest.as_ref(), Some(long));
        let claim = d.claim("q", None, None, None).await.unwrap().unwrap();
        assert_eq!(ids(&claim.messages), [long.as_str()]);
        assert_eq!(d.pop("q", 5).await, Ok(Vec::new()));
    }

    pub async fn project_isolation<D: Driver>(a: D) {
        let b = a.other_project().await;
        assert_eq!(a.create_queue("private", json!({"owner": "a"})).await, 201);
        let posted = a.post("private", json!([{"body": 0}, {"body": 1}])).await;
        let posted = posted.expect("posted");
        let sub = a
            .create_subscription("private", "http://example.com/a", 600)
            .await;
        let sub = sub.expect("subscribed");

        assert!(b.list_queues().await.is_empty());
        assert_eq!(b.get_metadata("private").await, default_metadata());
        assert!(b.list("private", ALL).await.is_empty());
        assert_eq!(b.get_message("private", &posted[0]).await, Err(404));
        assert!(b.get_many("private", &posted).await.is_empty());
        assert_eq!(b.claim("private", None, None, None).await, Ok(None));
        assert_eq!(b.pop("private", 5).await, Ok(Vec::new()));
        assert_eq!(b.stats("private").await, Stats::default());
        assert!(b.list_subscriptions("private").await.is_empty());
        assert_eq!(b.get_subscription("private", &sub).await, Err(404));
        assert_eq!(b.volume().await, (0, 0, 0));
        // Writes by B touch B's namespace only.
        assert_eq!(b.delete_message("private", &posted[0], None).await, 204);
        assert_eq!(b.delete_many("private", &posted).await, 204);
        assert_eq!(b.delete_subscription("private", &sub).await, 204);
        assert_eq!(b.delete_queue("private").await, 204);
        assert_eq!(b.create_queue("private", json!({"owner": "b"})).await, 201);

        assert_eq!(a.list_queues().await, ["private"]);
        assert_eq!(
            a.get_metadata("private").await,
            metadata_with(json!({"owner": "a"}))
        );
        assert_eq!(ids(&a.list("private", ECHO).await), posted);
        assert_eq!(a.list_subscriptions("private").await.len(), 1);
        assert_eq!(a.volume().await, (2, 0, 2));
        assert_eq!(
            b.get_metadata("private").await,
            metadata_with(json!({"owner": "b"}))
        );
    }

    pub async fn claim_renewal_extends_the_claim<D: Driver>(d: D) {
        let id = d.post("q", json!([{"body": 1, "ttl": 3600}])).await;
        let id = id.expect("posted").remove(0);
        let claim = d
            .claim("q", None, Some(60), Some(60))
            .await
            .unwrap()
            .unwrap();

        d.advance(50);
        let info = d.get_claim("q", &claim.id).await.expect("live");
        assert_eq!((info.ttl, info.age), (60, 50));
        assert_eq!(d.renew_claim("q", &claim.id, 100, 60).await, 204);
        let info = d.get_claim("q", &claim.id).await.expect("renewed");
        assert_eq!((info.ttl, info.age), (100, 0));
        assert_eq!(ids(&info.messages), [id.as_str()]);

        d.advance(90);
        assert!(d.get_claim("q", &claim.id).await.is_ok());
        assert!(d.list("q", ECHO).await.is_empty());

        d.advance(11);
        assert_eq!(d.get_claim("q", &claim.id).await, Err(404));
        assert_eq!(d.renew_claim("q", &claim.id, 100, 60).await, 404);
        assert_eq!(ids(&d.list("q", ECHO).await), [id]);
    }

    pub async fn claim_expiry_frees_messages<D: Driver>(d: D) {
        let posted = d.post("q", json!([{"body": 0}, {"body": 1}])).await;
        let posted = posted.expect("posted");
        let old = d.claim("q", None, Some(60), None).await.unwrap().unwrap();

        d.advance(61);
        assert_eq!(d.get_claim("q", &old.id).await, Err(404));
        assert_eq!(d.renew_claim("q", &old.id, 120, 60).await, 404);
        assert_eq!(ids(&d.list("q", ECHO).await), posted);
        assert_eq!(d.stats("q").await.claimed, 0);

        let other = d.other_client().await;
        let new = other.claim("q", None, None, None).await.unwrap().unwrap();
        assert_eq!(ids(&new.messages), posted);
        // The expired claim no longer entitles anyone to delete (it no longer exists: 400,
        // Cairn's documented choice); the live one does.
        assert_eq!(d.delete_message("q", &posted[0], Some(&old.id)).await, 400);
        assert!(d.get_message("q", &posted[0]).await.is_ok());
        assert_eq!(
            other.delete_message("q", &posted[0], Some(&new.id)).await,
            204
        );
        assert_eq!(d.stats("q").await.claimed, 1);
    }

    pub async fn queue_lifecycle<D: Driver>(d: D) {
        let md = json!({"owner": "ops", "nested": {"a": [1, 2]}, "_max_claim_count": 3});
        assert_eq!(d.create_queue("q", md.clone()).await, 201);
        assert_eq!(d.create_queue("q", json!({"ignored": true})).await, 204);
        assert_eq!(d.get_metadata("q").await, metadata_with(md));
        assert_eq!(d.create_queue("r", json!({})).await, 201);
        assert_eq!(d.list_queues().await, ["q", "r"]);
        assert_eq!(d.create_queue("bad name!", json!({})).await, 400);
        assert_eq!(d.create_queue(&"x".repeat(65), json!({})).await, 400);

        assert_eq!(d.delete_queue("q").await, 204);
        assert_eq!(d.list_queues().await, ["r"]);
        assert_eq!(d.get_metadata("q").await, default_metadata());
        assert_eq!(d.delete_queue("q").await, 204);
        assert_eq!(d.get_metadata("r").await, default_metadata());
    }

    pub async fn get_many_returns_what_exists<D: Driver>(d: D) {
        let posted = d
            .post("q", json!([{"body": 0}, {"body": 1}, {"body": 2}]))
            .await;
        let posted = posted.expect("posted");
        d.claim("q", Some(1), None, None).await.unwrap().unwrap();

        let asked = [posted[2].clone(), MISSING.to_owned(), posted[0].clone()];
        let found = d.get_many("q", &asked).await;
        assert_eq!(
            common::sorted(ids(&found)),
            common::sorted(vec![posted[0].clone(), posted[2].clone()])
        );
        // Claims and echo do not matter.
        let other = d.other_client().await;
        assert_eq!(other.get_many("q", &posted).await.len(), 3);
        assert!(d.get_many("q", &[MISSING.to_owned()]).await.is_empty());
        assert!(d.get_many("q", &["not-an-id".to_owned()]).await.is_empty());
        assert!(d.get_many("nowhere", &posted).await.is_empty());
    }

    pub async fn delete_many_removes_claimed_messages<D: Driver>(d: D) {
        let body = json!([{"body": 0}, {"body": 1}, {"body": 2}, {"body": 3}]);
        let posted = d.post("q", body).await.expect("posted");
        let claim = d.claim("q", Some(2), None, None).await.unwrap().unwrap();

        let doomed = [posted[0].clone(), posted[2].clone(), MISSING.to_owned()];
        assert_eq!(d.delete_many("q", &doomed).await, 204);

        assert_eq!(
            ids(&d.list("q", ALL).await),
            [posted[1].clone(), posted[3].clone()]
        );
        let stats = d.stats("q").await;
        assert_eq!((stats.free, stats.claimed, stats.total), (1, 1, 2));
        let info = d.get_claim("q", &claim.id).await.expect("still live");
        assert_eq!(ids(&info.messages), posted[1..2]);
        assert_eq!(d.delete_many("nowhere", &doomed).await, 204);
    }

    pub async fn subscription_lifecycle<D: Driver>(d: D) {
        assert_eq!(d.create_queue("q", json!({})).await, 201);
        let hook = d
            .create_subscription("q", "http://example.com/hook", 600)
            .await;
        let hook = hook.expect("created");
        let mail = d
            .create_subscription("q", "mailto:ops@example.com", 3600)
            .await;
        let mail = mail.expect("created");
        assert_ne!(hook, mail);
        assert_eq!(
            d.create_subscription("q", "gopher://example.com", 600)
                .await,
            Err(400)
        );
        assert_eq!(
            d.create_subscription("q", "http://example.com/x", 59).await,
            Err(400)
        );

        let got = d.get_subscription("q", &hook).await.expect("found");
        assert_eq!(
            got,
            Sub {
                id: hook.clone(),
                source: "q".into(),
                subscriber: "http://example.com/hook".into(),
                ttl: 600,
                options: json!({}),
            }
        );
        let listed = d.list_subscriptions("q").await;
        let mut listed_ids: Vec<String> = listed.iter().map(|s| s.id.clone()).collect();
        listed_ids.sort();
        assert_eq!(listed_ids, common::sorted(vec![hook.clone(), mail.clone()]));
        assert!(listed.contains(&got));

        assert_eq!(d.delete_subscription("q", &hook).await, 204);
        assert_eq!(d.get_subscription("q", &hook).await, Err(404));
        let left: Vec<String> = d
            .list_subscriptions("q")
            .await
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(left, [mail]);
        assert_eq!(d.delete_subscription("q", &hook).await, 204);
        assert!(d.list_subscriptions("nowhere").await.is_empty());
    }

    pub async fn purge_empties_the_queue<D: Driver>(d: D) {
        assert_eq!(d.create_queue("q", json!({"keep": 1})).await, 201);
        let posted = d
            .post("q", json!([{"body": 0}, {"body": 1}, {"body": 2}]))
            .await;
        posted.expect("posted");
        d.claim("q", Some(1), None, None).await.unwrap().unwrap();

        assert_eq!(d.purge("q").await, 204);

        assert!(d.list("q", ALL).await.is_empty());
        assert_eq!(d.stats("q").await, Stats::default());
        assert_eq!(d.list_queues().await, ["q"]);
        assert_eq!(d.get_metadata("q").await, metadata_with(json!({"keep": 1})));
        let again = d
            .post("q", json!([{"body": "fresh"}]))
            .await
            .expect("posted");
        assert_eq!(ids(&d.list("q", ECHO).await), again);
    }

    pub async fn age_follows_the_clock<D: Driver>(d: D) {
        let id = d
            .post("q", json!([{"body": 1}]))
            .await
            .expect("posted")
            .remove(0);
        d.advance(42);

        assert_eq!(d.get_message("q", &id).await.map(|m| m.age), Ok(42));
        assert_eq!(d.list("q", ECHO).await[0].age, 42);
        assert_eq!(d.get_many("q", std::slice::from_ref(&id)).await[0].age, 42);
        let claim = d.claim("q", None, None, None).await.unwrap().unwrap();
        assert_eq!(claim.messages[0].age, 42);
        assert_eq!(d.get_claim("q", &claim.id).await.map(|c| c.age), Ok(0));
        d.advance(5);
        assert_eq!(d.get_claim("q", &claim.id).await.map(|c| c.age), Ok(5));
        assert_eq!(d.stats("q").await.total, 1);
    }

    pub async fn claim_extends_short_lived_messages<D: Driver>(d: D) {
        let posted = d
            .post(
                "q",
                json!([{"body": "short", "ttl": 60}, {"body": "long", "ttl": 3600}]),
            )
            .await
            .expect("posted");

        let claim = d
            .claim("q", None, Some(100), Some(60))
            .await
            .unwrap()
            .unwrap();

        let ttls: Vec<i64> = claim.messages.iter().map(|m| m.ttl).collect();
        assert_eq!(ttls, [160, 3600]);
        assert_eq!(d.get_message("q", &posted[0]).await.map(|m| m.ttl), Ok(160));
        d.advance(159);
        assert!(d.get_message("q", &posted[0]).await.is_ok());
        d.advance(2);
        assert_eq!(d.get_message("q", &posted[0]).await, Err(404));
        assert_eq!(ids(&d.list("q", ALL).await), posted[1..]);
    }

    pub async fn queue_delete_removes_messages<D: Driver>(d: D) {
        assert_eq!(d.create_queue("q", json!({"a": 1})).await, 201);
        let posted = d.post("q", json!([{"body": 0}, {"body": 1}])).await;
        let posted = posted.expect("posted");
        d.claim("q", Some(1), None, None).await.unwrap().unwrap();

        assert_eq!(d.delete_queue("q").await, 204);

        assert!(d.list("q", ALL).await.is_empty());
        assert_eq!(d.get_message("q", &posted[0]).await, Err(404));
        assert_eq!(d.stats("q").await, Stats::default());
        assert!(d.list_queues().await.is_empty());
        // Posting creates it afresh, without the old metadata.
        let fresh = d.post("q", json!([{"body": 2}])).await.expect("posted");
        assert_eq!(ids(&d.list("q", ALL).await), fresh);
        assert_eq!(d.get_metadata("q").await, default_metadata());
    }

    pub async fn message_ttl_defaults_to_the_queue_default<D: Driver>(d: D) {
        let md = json!({"_default_message_ttl": 120});
        assert_eq!(d.create_queue("short", md).await, 201);
        let short = d
            .post("short", json!([{"body": 1}, {"body": 2, "ttl": 300}]))
            .await
            .expect("posted");
        let plain = d.post("plain", json!([{"body": 3}])).await.expect("posted");

        assert_eq!(
            d.get_message("short", &short[0]).await.map(|m| m.ttl),
            Ok(120)
        );
        assert_eq!(
            d.get_message("short", &short[1]).await.map(|m| m.ttl),
            Ok(300)
        );
        assert_eq!(
            d.get_message("plain", &plain[0]).await.map(|m| m.ttl),
            Ok(3600)
        );
        d.advance(121);
        assert_eq!(d.get_message("short", &short[0]).await, Err(404));
        assert!(d.get_message("short", &short[1]).await.is_ok());
    }

    pub async fn health_reports_the_project_volume<D: Driver>(d: D) {
        assert_eq!(d.volume().await, (0, 0, 0));
        d.post("a", json!([{"body": 0}, {"body": 1}, {"body": 2}]))
            .await
            .unwrap();
        d.post("b", json!([{"body": 3}])).await.unwrap();
        d.claim("a", Some(1), None, None).await.unwrap().unwrap();

        assert_eq!(d.volume().await, (3, 1, 4));
        assert_eq!(d.other_client().await.volume().await, (3, 1, 4));
        assert_eq!(d.other_project().await.volume().await, (0, 0, 0));
    }

    pub async fn claims_take_messages_in_posting_order<D: Driver>(d: D) {
        let mut posted = d
            .post("q", json!([{"body": 0}, {"body": 1}, {"body": 2}]))
            .await
            .unwrap();
        posted.extend(
            d.post("q", json!([{"body": 3}, {"body": 4}]))
                .await
                .unwrap(),
        );
        let other = d.other_client().await;

        let first = other
            .claim("q", Some(4), None, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids(&first.messages), posted[..4]);
        let bodies: Vec<Value> = first.messages.iter().map(|m| m.body.clone()).collect();
        assert_eq!(bodies, [json!(0), json!(1), json!(2), json!(3)]);
        let rest = d.claim("q", None, None, None).await.unwrap().unwrap();
        assert_eq!(ids(&rest.messages), posted[4..]);
    }
}

// ---- the driver interface ------------------------------------------------------------------

/// A message as every transport reports it.
#[derive(Debug, Clone, PartialEq)]
struct Msg {
    id: String,
    body: Value,
    ttl: i64,
    age: i64,
}

/// A new claim.
#[derive(Debug, Clone, PartialEq)]
struct Claim {
    id: String,
    messages: Vec<Msg>,
}

/// A claim as read back.
#[derive(Debug, Clone, PartialEq)]
struct ClaimInfo {
    ttl: i64,
    age: i64,
    messages: Vec<Msg>,
}

/// Queue stats; `oldest`/`newest` are message ids.
#[derive(Debug, Clone, PartialEq, Default)]
struct Stats {
    free: i64,
    claimed: i64,
    total: i64,
    oldest: Option<String>,
    newest: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Sub {
    id: String,
    source: String,
    subscriber: String,
    ttl: i64,
    options: Value,
}

/// Listing flags.
#[derive(Debug, Clone, Copy, Default)]
struct List {
    echo: bool,
    include_claimed: bool,
    include_delayed: bool,
}

/// One client of one project, over one transport. Failures come back as the REST status.
trait Driver: Sized {
    /// A driver for this client of this project.
    async fn connect(server: Arc<TestServer>, client_id: &str, project: &str) -> Self;
    fn server(&self) -> &Arc<TestServer>;
    fn project(&self) -> &str;

    /// Another client (Client-ID) of the same project.
    async fn other_client(&self) -> Self {
        Self::connect(self.server().clone(), &new_uuid(), self.project()).await
    }

    /// A client of a fresh project.
    async fn other_project(&self) -> Self {
        let project = format!("project-{}", new_uuid());
        Self::connect(self.server().clone(), &new_uuid(), &project).await
    }

    /// Moves the server's clock forward.
    fn advance(&self, secs: i64) {
        self.server().advance(secs);
    }

    async fn create_queue(&self, queue: &str, metadata: Value) -> u16;
    /// The metadata with every reserved key filled in, as REST reports it.
    async fn get_metadata(&self, queue: &str) -> Value;
    async fn list_queues(&self) -> Vec<String>;
    async fn delete_queue(&self, queue: &str) -> u16;
    async fn purge(&self, queue: &str) -> u16;
    /// Zero stats for a missing queue.
    async fn stats(&self, queue: &str) -> Stats;
    async fn post(&self, queue: &str, messages: Value) -> Result<Vec<String>, u16>;
    async fn list(&self, queue: &str, flags: List) -> Vec<Msg>;
    async fn get_message(&self, queue: &str, id: &str) -> Result<Msg, u16>;
    /// Empty when none exists.
    async fn get_many(&self, queue: &str, ids: &[String]) -> Vec<Msg>;
    async fn delete_message(&self, queue: &str, id: &str, claim: Option<&str>) -> u16;
    async fn delete_many(&self, queue: &str, ids: &[String]) -> u16;
    async fn pop(&self, queue: &str, n: i64) -> Result<Vec<Msg>, u16>;
    async fn claim(
        &self,
        queue: &str,
        limit: Option<i64>,
        ttl: Option<i64>,
        grace: Option<i64>,
    ) -> Result<Option<Claim>, u16>;
    async fn get_claim(&self, queue: &str, id: &str) -> Result<ClaimInfo, u16>;
    async fn renew_claim(&self, queue: &str, id: &str, ttl: i64, grace: i64) -> u16;
    async fn release_claim(&self, queue: &str, id: &str) -> u16;
    async fn create_subscription(
        &self,
        queue: &str,
        subscriber: &str,
        ttl: i64,
    ) -> Result<String, u16>;
    async fn list_subscriptions(&self, queue: &str) -> Vec<Sub>;
    async fn get_subscription(&self, queue: &str, id: &str) -> Result<Sub, u16>;
    async fn delete_subscription(&self, queue: &str, id: &str) -> u16;
    /// The project's message volume: (free, claimed, total).
    async fn volume(&self) -> (i64, i64, i64);
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn string(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

fn msg(v: &Value) -> Msg {
    Msg {
        id: string(&v["id"]),
        body: v["body"].clone(),
        ttl: int(&v["ttl"]),
        age: int(&v["age"]),
    }
}

fn msgs(v: &Value) -> Vec<Msg> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array of messages: {v}"))
        .iter()
        .map(msg)
        .collect()
}

fn sub(v: &Value) -> Sub {
    Sub {
        id: string(&v["id"]),
        source: string(&v["source"]),
        subscriber: string(&v["subscriber"]),
        ttl: int(&v["ttl"]),
        options: v["options"].clone(),
    }
}

fn subs(v: &Value) -> Vec<Sub> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array of subscriptions: {v}"))
        .iter()
        .map(sub)
        .collect()
}

/// Stats from a `{"messages": {...}}` document; `reference` reads a message id out of
/// `oldest`/`newest`.
fn stats(doc: &Value, reference: impl Fn(&Value) -> String) -> Stats {
    let m = &doc["messages"];
    let end = |key: &str| m.get(key).map(&reference);
    Stats {
        free: int(&m["free"]),
        claimed: int(&m["claimed"]),
        total: int(&m["total"]),
        oldest: end("oldest"),
        newest: end("newest"),
    }
}

fn volume(doc: &Value) -> (i64, i64, i64) {
    let v = &doc["message_volume"];
    (int(&v["free"]), int(&v["claimed"]), int(&v["total"]))
}

/// A claim-style body with only the given fields.
fn fields(pairs: &[(&str, Option<i64>)]) -> Value {
    let mut doc = json!({});
    for (key, value) in pairs {
        if let Some(v) = value {
            doc[*key] = json!(v);
        }
    }
    doc
}

// ---- REST ----------------------------------------------------------------------------------

struct HttpDriver {
    server: Arc<TestServer>,
    client: Client,
}

impl HttpDriver {
    fn path(queue: &str, rest: &str) -> String {
        format!("/v2/queues/{queue}{rest}")
    }

    /// The status, after checking that a failure carries Zaqar's error body.
    fn status(r: &Resp) -> u16 {
        if r.status >= 400 {
            r.expect_error(r.status, r.body["title"].as_str().unwrap_or(""));
        }
        r.status
    }
}

impl Driver for HttpDriver {
    async fn connect(server: Arc<TestServer>, client_id: &str, project: &str) -> Self {
        let client = Client::new(&server.base, client_id, project);
        HttpDriver { server, client }
    }

    fn server(&self) -> &Arc<TestServer> {
        &self.server
    }

    fn project(&self) -> &str {
        &self.client.project
    }

    async fn create_queue(&self, queue: &str, metadata: Value) -> u16 {
        Self::status(&self.client.put(&Self::path(queue, ""), &metadata).await)
    }

    async fn get_metadata(&self, queue: &str) -> Value {
        let r = self.client.get(&Self::path(queue, "")).await;
        r.expect(200);
        r.body
    }

    async fn list_queues(&self) -> Vec<String> {
        let r = self.client.get("/v2/queues?limit=20").await;
        r.expect(200);
        let queues = r.body["queues"].as_array().expect("queues");
        queues.iter().map(|q| string(&q["name"])).collect()
    }

    async fn delete_queue(&self, queue: &str) -> u16 {
        Self::status(&self.client.delete(&Self::path(queue, "")).await)
    }

    async fn purge(&self, queue: &str) -> u16 {
        Self::status(&self.client.post_empty(&Self::path(queue, "/purge")).await)
    }

    async fn stats(&self, queue: &str) -> Stats {
        let r = self.client.get(&Self::path(queue, "/stats")).await;
        r.expect(200);
        stats(&r.body, |end| {
            last_segment(&string(&end["href"])).to_owned()
        })
    }

    async fn post(&self, queue: &str, messages: Value) -> Result<Vec<String>, u16> {
        let doc = json!({ "messages": messages });
        let r = self
            .client
            .post(&Self::path(queue, "/messages"), &doc)
            .await;
        match Self::status(&r) {
            201 => Ok(r.body["resources"]
                .as_array()
                .expect("resources")
                .iter()
                .map(|href| last_segment(&string(href)).to_owned())
                .collect()),
            status => Err(status),
        }
    }

    async fn list(&self, queue: &str, flags: List) -> Vec<Msg> {
        let query = format!(
            "/messages?limit=20&echo={}&include_claimed={}&include_delayed={}",
            flags.echo, flags.include_claimed, flags.include_delayed
        );
        let r = self.client.get(&Self::path(queue, &query)).await;
        r.expect(200);
        msgs(&r.body["messages"])
    }

    async fn get_message(&self, queue: &str, id: &str) -> Result<Msg, u16> {
        let r = self
            .client
            .get(&Self::path(queue, &format!("/messages/{id}")))
            .await;
        match Self::status(&r) {
            200 => Ok(msg(&r.body)),
            status => Err(status),
        }
    }

    async fn get_many(&self, queue: &str, ids: &[String]) -> Vec<Msg> {
        let query = format!("/messages?ids={}", ids.join(","));
        let r = self.client.get(&Self::path(queue, &query)).await;
        match Self::status(&r) {
            200 => msgs(&r.body["messages"]),
            // REST answers 404 when none exists; the WebSocket API an empty list.
            404 => Vec::new(),
            _ => panic!("unexpected get by ids answer: {r:?}"),
        }
    }

    async fn delete_message(&self, queue: &str, id: &str, claim: Option<&str>) -> u16 {
        let query = match claim {
            Some(c) => format!("/messages/{id}?claim_id={c}"),
            None => format!("/messages/{id}"),
        };
        Self::status(&self.client.delete(&Self::path(queue, &query)).await)
    }

    async fn delete_many(&self, queue: &str, ids: &[String]) -> u16 {
        let query = format!("/messages?ids={}", ids.join(","));
        Self::status(&self.client.delete(&Self::path(queue, &query)).await)
    }

    async fn pop(&self, queue: &str, n: i64) -> Result<Vec<Msg>, u16> {
        let r = self
            .client
            .delete(&Self::path(queue, &format!("/messages?pop={n}")))
            .await;
        match Self::status(&r) {
            200 => Ok(msgs(&r.body["messages"])),
            status => Err(status),
        }
    }

    async fn claim(
        &self,
        queue: &str,
        limit: Option<i64>,
        ttl: Option<i64>,
        grace: Option<i64>,
    ) -> Result<Option<Claim>, u16> {
        let path = match limit {
            Some(n) => Self::path(queue, &format!("/claims?limit={n}")),
            None => Self::path(queue, "/claims"),
        };
        let body = fields(&[("ttl", ttl), ("grace", grace)]);
        let r = self.client.post(&path, &body).await;
        match Self::status(&r) {
            201 => Ok(Some(Claim {
                id: last_segment(r.location()).to_owned(),
                messages: msgs(&r.body["messages"]),
            })),
            204 => Ok(None),
            status => Err(status),
        }
    }

    async fn get_claim(&self, queue: &str, id: &str) -> Result<ClaimInfo, u16> {
        let r = self
            .client
            .get(&Self::path(queue, &format!("/claims/{id}")))
            .await;
        match Self::status(&r) {
            200 => Ok(ClaimInfo {
                ttl: int(&r.body["ttl"]),
                age: int(&r.body["age"]),
                messages: msgs(&r.body["messages"]),
            }),
            status => Err(status),
        }
    }

    async fn renew_claim(&self, queue: &str, id: &str, ttl: i64, grace: i64) -> u16 {
        let path = Self::path(queue, &format!("/claims/{id}"));
        let body = json!({"ttl": ttl, "grace": grace});
        Self::status(&self.client.patch(&path, &body).await)
    }

    async fn release_claim(&self, queue: &str, id: &str) -> u16 {
        let path = Self::path(queue, &format!("/claims/{id}"));
        Self::status(&self.client.delete(&path).await)
    }

    async fn create_subscription(
        &self,
        queue: &str,
        subscriber: &str,
        ttl: i64,
    ) -> Result<String, u16> {
        let body = json!({"subscriber": subscriber, "ttl": ttl});
        let r = self
            .client
            .post(&Self::path(queue, "/subscriptions"), &body)
            .await;
        match Self::status(&r) {
            201 => Ok(string(&r.body["subscription_id"])),
            status => Err(status),
        }
    }

    async fn list_subscriptions(&self, queue: &str) -> Vec<Sub> {
        let r = self
            .client
            .get(&Self::path(queue, "/subscriptions?limit=20"))
            .await;
        r.expect(200);
        subs(&r.body["subscriptions"])
    }

    async fn get_subscription(&self, queue: &str, id: &str) -> Result<Sub, u16> {
        let r = self
            .client
            .get(&Self::path(queue, &format!("/subscriptions/{id}")))
            .await;
        match Self::status(&r) {
            200 => Ok(sub(&r.body)),
            status => Err(status),
        }
    }

    async fn delete_subscription(&self, queue: &str, id: &str) -> u16 {
        let path = Self::path(queue, &format!("/subscriptions/{id}"));
        Self::status(&self.client.delete(&path).await)
    }

    async fn volume(&self) -> (i64, i64, i64) {
        let r = self.client.get("/v2/health").await;
        r.expect(200);
        volume(&r.body)
    }
}

// ---- WebSocket -----------------------------------------------------------------------------

/// The frame encoding a WebSocket driver uses.
trait Frames {
    const CODEC: Codec;
}

struct JsonFrames;
struct MsgPackFrames;

impl Frames for JsonFrames {
    const CODEC: Codec = Codec::Json;
}

impl Frames for MsgPackFrames {
    const CODEC: Codec = Codec::MsgPack;
}

struct WsDriver<F> {
    server: Arc<TestServer>,
    project: String,
    ws: Mutex<WsClient>,
    frames: PhantomData<F>,
}

impl<F: Frames> WsDriver<F> {
    async fn send(&self, action: &str, body: Value) -> WsResp {
        self.ws.lock().await.send(action, body).await
    }

    /// The status, after checking that a failure carries an `error` text.
    fn status(r: &WsResp) -> u16 {
        if r.status >= 400 {
            r.expect_error(r.status);
        }
        r.status
    }
}

impl<F: Frames> Driver for WsDriver<F> {
    async fn connect(server: Arc<TestServer>, client_id: &str, project: &str) -> Self {
        let ws = WsClient::connect(&server, F::CODEC, client_id, project).await;
        WsDriver {
            server,
            project: project.to_owned(),
            ws: Mutex::new(ws),
            frames: PhantomData,
        }
    }

    fn server(&self) -> &Arc<TestServer> {
        &self.server
    }

    fn project(&self) -> &str {
        &self.project
    }

    async fn create_queue(&self, queue: &str, metadata: Value) -> u16 {
        let r = self
            .send(
                "queue_create",
                json!({"queue_name": queue, "metadata": metadata}),
            )
            .await;
        Self::status(&r)
    }

    async fn get_metadata(&self, queue: &str) -> Value {
        let r = self.send("queue_get", json!({"queue_name": queue})).await;
        r.expect(200);
        // The WebSocket API shows the stored metadata only (reference §7.8).
        metadata_with(r.body)
    }

    async fn list_queues(&self) -> Vec<String> {
        let r = self.send("queue_list", json!({"limit": 20})).await;
        r.expect(200);
        let queues = r.body["queues"].as_array().expect("queues");
        queues.iter().map(|q| string(&q["name"])).collect()
    }

    async fn delete_queue(&self, queue: &str) -> u16 {
        let r = self
            .send("queue_delete", json!({"queue_name": queue}))
            .await;
        Self::status(&r)
    }

    async fn purge(&self, queue: &str) -> u16 {
        let r = self.send("queue_purge", json!({"queue_name": queue})).await;
        Self::status(&r)
    }

    async fn stats(&self, queue: &str) -> Stats {
        let r = self
            .send("queue_get_stats", json!({"queue_name": queue}))
            .await;
        // 404 with zero counts for a missing queue (reference §7.8); REST answers 200.
        assert!(r.status == 200 || r.status == 404, "{r:?}");
        stats(&r.body, |end| string(&end["id"]))
    }

    async fn post(&self, queue: &str, messages: Value) -> Result<Vec<String>, u16> {
        let body = json!({"queue_name": queue, "messages": messages});
        let r = self.send("message_post", body).await;
        match Self::status(&r) {
            201 => Ok(r.body["message_ids"]
                .as_array()
                .expect("message_ids")
                .iter()
                .map(string)
                .collect()),
            status => Err(status),
        }
    }

    async fn list(&self, queue: &str, flags: List) -> Vec<Msg> {
        let body = json!({"queue_name": queue, "limit": 20, "echo": flags.echo,
                          "include_claimed": flags.include_claimed,
                          "include_delayed": flags.include_delayed});
        let r = self.send("message_list", body).await;
        r.expect(200);
        msgs(&r.body["messages"])
    }

    async fn get_message(&self, queue: &str, id: &str) -> Result<Msg, u16> {
        let body = json!({"queue_name": queue, "message_id": id});
        let r = self.send("message_get", body).await;
        match Self::status(&r) {
            200 => Ok(msg(&r.body["messages"])),
            status => Err(status),
        }
    }

    async fn get_many(&self, queue: &str, ids: &[String]) -> Vec<Msg> {
        let body = json!({"queue_name": queue, "message_ids": ids});
        let r = self.send("message_get_many", body).await;
        r.expect(200);
        msgs(&r.body["messages"])
    }

    async fn delete_message(&self, queue: &str, id: &str, claim: Option<&str>) -> u16 {
        let mut body = json!({"queue_name": queue, "message_id": id});
        if let Some(c) = claim {
            body["claim_id"] = json!(c);
        }
        Self::status(&self.send("message_delete", body).await)
    }

    async fn delete_many(&self, queue: &str, ids: &[String]) -> u16 {
        let body = json!({"queue_name": queue, "message_ids": ids});
        Self::status(&self.send("message_delete_many", body).await)
    }

    async fn pop(&self, queue: &str, n: i64) -> Result<Vec<Msg>, u16> {
        let body = json!({"queue_name": queue, "pop": n});
        let r = self.send("message_delete_many", body).await;
        match Self::status(&r) {
            200 => Ok(msgs(&r.body["messages"])),
            status => Err(status),
        }
    }

    async fn claim(
        &self,
        queue: &str,
        limit: Option<i64>,
        ttl: Option<i64>,
        grace: Option<i64>,
    ) -> Result<Option<Claim>, u16> {
        let mut body = fields(&[("limit", limit), ("ttl", ttl), ("grace", grace)]);
        body["queue_name"] = json!(queue);
        let r = self.send("claim_create", body).await;
        match Self::status(&r) {
            201 => Ok(Some(Claim {
                id: string(&r.body["claim_id"]),
                messages: msgs(&r.body["messages"]),
            })),
            204 => {
                assert_eq!(r.body, json!({"claim_id": null}));
                Ok(None)
            }
            status => Err(status),
        }
    }

    async fn get_claim(&self, queue: &str, id: &str) -> Result<ClaimInfo, u16> {
        let body = json!({"queue_name": queue, "claim_id": id});
        let r = self.send("claim_get", body).await;
        match Self::status(&r) {
            200 => Ok(ClaimInfo {
                ttl: int(&r.body["ttl"]),
                age: int(&r.body["age"]),
                messages: msgs(&r.body["messages"]),
            }),
            status => Err(status),
        }
    }

    async fn renew_claim(&self, queue: &str, id: &str, ttl: i64, grace: i64) -> u16 {
        let body = json!({"queue_name": queue, "claim_id": id, "ttl": ttl, "grace": grace});
        Self::status(&self.send("claim_update", body).await)
    }

    async fn release_claim(&self, queue: &str, id: &str) -> u16 {
        let body = json!({"queue_name": queue, "claim_id": id});
        Self::status(&self.send("claim_delete", body).await)
    }

    async fn create_subscription(
        &self,
        queue: &str,
        subscriber: &str,
        ttl: i64,
    ) -> Result<String, u16> {
        let body = json!({"queue_name": queue, "subscriber": subscriber, "ttl": ttl});
        let r = self.send("subscription_create", body).await;
        match Self::status(&r) {
            201 => Ok(string(&r.body["subscription_id"])),
            status => Err(status),
        }
    }

    async fn list_subscriptions(&self, queue: &str) -> Vec<Sub> {
        let body = json!({"queue_name": queue, "limit": 20});
        let r = self.send("subscription_list", body).await;
        r.expect(200);
        subs(&r.body["subscriptions"])
    }

    async fn get_subscription(&self, queue: &str, id: &str) -> Result<Sub, u16> {
        let body = json!({"queue_name": queue, "subscription_id": id});
        let r = self.send("subscription_get", body).await;
        match Self::status(&r) {
            200 => Ok(sub(&r.body)),
            status => Err(status),
        }
    }

    async fn delete_subscription(&self, queue: &str, id: &str) -> u16 {
        let body = json!({"queue_name": queue, "subscription_id": id});
        Self::status(&self.send("subscription_delete", body).await)
    }

    async fn volume(&self) -> (i64, i64, i64) {
        let r = self.send("check_node_health", json!({})).await;
        r.expect(200);
        volume(&r.body)
    }
}
