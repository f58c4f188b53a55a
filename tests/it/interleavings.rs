//! Property: random interleavings of posts, claims, renewals, releases, deletes and the
//! passing of time, each sent over REST or over the WebSocket API at random, against a
//! model of the queue. After every step: no message is in two live claims, no acknowledged
//! message is lost (each one not deleted is listed), and the stats' counts equal the listing
//! and the model. Seeded and reproducible: set `CAIRN_PROPERTY_SEED` to replay a failure.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::common::audit::Rng;
use crate::common::ws::{Codec, WsClient};
use crate::common::{last_segment, Client, TestServer};

const QUEUE: &str = "mixed";
/// Messages live longer than any run's clock advances, so only claims expire.
const MESSAGE_TTL: i64 = 86_400;
const GRACE: i64 = 60;

/// What the model knows of one live (not deleted) message.
#[derive(Debug, Clone, Default)]
struct Held {
    /// The claim holding it and when that claim expires (ms), if any was made.
    claim: Option<(String, i64)>,
}

/// The queue as the model sees it; `now` in milliseconds, as the server's clock.
#[derive(Debug, Default)]
struct Model {
    live: BTreeMap<String, Held>,
    /// Live claims (as far as the model knows): id → expiry (ms).
    claims: BTreeMap<String, i64>,
    now: i64,
}

impl Model {
    /// The claim holding `id` now, if it is live.
    fn holder(&self, id: &str) -> Option<&str> {
        match &self.live[id].claim {
            Some((claim, expires)) if *expires > self.now => Some(claim),
            _ => None,
        }
    }

    fn claimed(&self) -> BTreeSet<String> {
        self.live
            .keys()
            .filter(|id| self.holder(id).is_some())
            .cloned()
            .collect()
    }

    fn live_claims(&self) -> Vec<String> {
        self.claims
            .iter()
            .filter(|(_, expires)| **expires > self.now)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// One step's transport.
enum Via<'a> {
    Rest(&'a Client),
    Ws(&'a mut WsClient),
}

fn ids_of(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["id"].as_str().expect("a message id").to_owned())
        .collect()
}

async fn post(via: Via<'_>, n: usize, step: usize) -> Vec<String> {
    let messages: Vec<Value> = (0..n)
        .map(|i| json!({"body": {"step": step, "i": i}, "ttl": MESSAGE_TTL}))
        .collect();
    match via {
        Via::Rest(c) => c.post_messages(QUEUE, &messages).await,
        Via::Ws(ws) => {
            let r = ws
                .send(
                    "message_post",
                    json!({"queue_name": QUEUE, "messages": messages}),
                )
                .await;
            r.expect(201);
            r.body["message_ids"]
                .as_array()
                .expect("message_ids")
                .iter()
                .map(|id| id.as_str().unwrap().to_owned())
                .collect()
        }
    }
}

/// Claims up to `limit`; the claim id and the messages it took.
async fn claim(via: Via<'_>, limit: i64, ttl: i64) -> Option<(String, Vec<String>)> {
    match via {
        Via::Rest(c) => {
            let r = c
                .post(
                    &format!("/v2/queues/{QUEUE}/claims?limit={limit}"),
                    &json!({"ttl": ttl, "grace": GRACE}),
                )
                .await;
            if r.status == 204 {
                return None;
            }
            r.expect(201);
            let claim = last_segment(r.location()).to_owned();
            Some((claim, ids_of(r.messages())))
        }
        Via::Ws(ws) => {
            let r = ws
                .send(
                    "claim_create",
                    json!({"queue_name": QUEUE, "limit": limit, "ttl": ttl, "grace": GRACE}),
                )
                .await;
            if r.status == 204 {
                return None;
            }
            r.expect(201);
            let claim = r.body["claim_id"].as_str().expect("claim_id").to_owned();
            Some((
                claim,
                ids_of(r.body["messages"].as_array().expect("messages")),
            ))
        }
    }
}

async fn renew(via: Via<'_>, claim: &str, ttl: i64) -> u16 {
    match via {
        Via::Rest(c) => {
            c.patch(
                &format!("/v2/queues/{QUEUE}/claims/{claim}"),
                &json!({"ttl": ttl, "grace": GRACE}),
            )
            .await
            .status
        }
        Via::Ws(ws) => {
            ws.send(
                "claim_update",
                json!({"queue_name": QUEUE, "claim_id": claim, "ttl": ttl, "grace": GRACE}),
            )
            .await
            .status
        }
    }
}

async fn release(via: Via<'_>, claim: &str) -> u16 {
    match via {
        Via::Rest(c) => {
            c.delete(&format!("/v2/queues/{QUEUE}/claims/{claim}"))
                .await
                .status
        }
        Via::Ws(ws) => {
            ws.send(
                "claim_delete",
                json!({"queue_name": QUEUE, "claim_id": claim}),
            )
            .await
            .status
        }
    }
}

async fn delete(via: Via<'_>, id: &str, claim: Option<&str>) -> u16 {
    match via {
        Via::Rest(c) => {
            let query = claim.map_or(String::new(), |c| format!("?claim_id={c}"));
            c.delete(&format!("/v2/queues/{QUEUE}/messages/{id}{query}"))
                .await
                .status
        }
        Via::Ws(ws) => {
            let mut body = json!({"queue_name": QUEUE, "message_id": id});
            if let Some(claim) = claim {
                body["claim_id"] = json!(claim);
            }
            ws.send("message_delete", body).await.status
        }
    }
}

/// Every message the listing shows (all pages, claimed ones included), and the stats.
async fn observe(c: &Client, ws: &mut WsClient, over_ws: bool) -> (BTreeSet<String>, Value) {
    let mut listed = BTreeSet::new();
    let mut path = format!("/v2/queues/{QUEUE}/messages?echo=true&include_claimed=true&limit=20");
    loop {
        let r = c.get(&path).await;
        r.expect(200);
        let ids = ids_of(r.messages());
        if ids.is_empty() {
            break;
        }
        for id in ids {
            assert!(listed.insert(id.clone()), "{id} is listed once");
        }
        path = r.next_link().expect("a next link on a non-empty page");
    }
    let stats = match over_ws {
        false => c.get(&format!("/v2/queues/{QUEUE}/stats")).await.body,
        true => {
            ws.send("queue_get_stats", json!({"queue_name": QUEUE}))
                .await
                .body
        }
    };
    (listed, stats["messages"].clone())
}

async fn run(seed: u64, steps: usize) {
    let server = TestServer::start().await;
    let c = server.client();
    let mut ws = WsClient::connect(&server, Codec::Json, &c.client_id, &c.project).await;
    let mut rng = Rng::new(seed);
    let mut model = Model {
        now: crate::common::START.0,
        ..Model::default()
    };
    let context = |step: usize, what: &str| format!("seed {seed}, step {step}: {what}");
    for step in 0..steps {
        let over_ws = rng.chance(50);
        macro_rules! via {
            () => {
                match over_ws {
                    true => Via::Ws(&mut ws),
                    false => Via::Rest(&c),
                }
            };
        }
        match rng.below(100) {
            0..=29 => {
                let n = rng.range(1, 5) as usize;
                for id in post(via!(), n, step).await {
                    model.live.insert(id, Held::default());
                }
            }
            30..=49 => {
                let limit = rng.range(1, 6);
                let ttl = rng.range(60, 300);
                let free: BTreeSet<String> = model
                    .live
                    .keys()
                    .filter(|id| model.holder(id).is_none())
                    .cloned()
                    .collect();
                match claim(via!(), limit, ttl).await {
                    None => assert!(free.is_empty(), "{}", context(step, "nothing claimed")),
                    Some((claim, ids)) => {
                        assert!(!ids.is_empty() && ids.len() as i64 <= limit);
                        let expires = model.now + ttl * 1000;
                        for id in &ids {
                            assert!(
                                free.contains(id),
                                "{}",
                                context(step, &format!("{id} claimed while held or deleted"))
                            );
                            model.live.get_mut(id).unwrap().claim = Some((claim.clone(), expires));
                        }
                        model.claims.insert(claim, expires);
                    }
                }
            }
            50..=59 => {
                // A claim renews while it holds a message (one whose messages are all
                // deleted is gone: 404).
                let live: Vec<String> = model
                    .live_claims()
                    .into_iter()
                    .filter(|claim| model.live.keys().any(|id| model.holder(id) == Some(claim)))
                    .collect();
                if let Some(claim) = rng.pick(&live).cloned() {
                    let ttl = rng.range(60, 300);
                    let status = renew(via!(), &claim, ttl).await;
                    assert_eq!(status, 204, "{}", context(step, "renewing a live claim"));
                    let expires = model.now + ttl * 1000;
                    model.claims.insert(claim.clone(), expires);
                    for held in model.live.values_mut() {
                        if let Some((c, e)) = &mut held.claim {
                            if *c == claim {
                                *e = expires;
                            }
                        }
                    }
                }
            }
            60..=67 => {
                let live = model.live_claims();
                if let Some(claim) = rng.pick(&live).cloned() {
                    assert_eq!(release(via!(), &claim).await, 204);
                    model.claims.remove(&claim);
                    for held in model.live.values_mut() {
                        if held.claim.as_ref().is_some_and(|(c, _)| *c == claim) {
                            held.claim = None;
                        }
                    }
                }
            }
            68..=84 => {
                let ids: Vec<String> = model.live.keys().cloned().collect();
                if let Some(id) = rng.pick(&ids).cloned() {
                    let holder = model.holder(&id).map(str::to_owned);
                    let status = delete(via!(), &id, holder.as_deref()).await;
                    assert_eq!(status, 204, "{}", context(step, &format!("deleting {id}")));
                    model.live.remove(&id);
                }
            }
            _ => {
                let secs = rng.range(1, 150);
                server.advance(secs);
                model.now += secs * 1000;
                if rng.chance(30) {
                    server.sweep().await;
                }
            }
        }
        let (listed, stats) = observe(&c, &mut ws, rng.chance(50)).await;
        let expected: BTreeSet<String> = model.live.keys().cloned().collect();
        assert_eq!(listed, expected, "{}", context(step, "the listing"));
        let claimed = model.claimed().len();
        assert_eq!(
            stats["total"],
            expected.len(),
            "{}",
            context(step, "stats total")
        );
        assert_eq!(
            stats["claimed"],
            claimed,
            "{}",
            context(step, "stats claimed")
        );
        assert_eq!(
            stats["free"],
            expected.len() - claimed,
            "{}",
            context(step, "stats free")
        );
    }
    server.shutdown().await;
}

fn seeds() -> Vec<u64> {
    match std::env::var("CAIRN_PROPERTY_SEED") {
        Ok(seed) => vec![seed.parse().expect("CAIRN_PROPERTY_SEED is a number")],
        Err(_) => vec![7, 1_234, 98_765],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_interleavings_over_rest_and_websocket_keep_the_invariants() {
    for seed in seeds() {
        run(seed, 250).await;
    }
}
