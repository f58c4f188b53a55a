//! The decoders of request bodies, shared by REST and WebSocket: posted messages, claim
//! options, purge targets, queue metadata and its JSON-patch (applied to a stored document),
//! subscriptions (create, update, confirmation) and the admin API's pool and flavor
//! documents. The first byte picks the decoder, the rest is the body.
//!
//! Beyond "no panic", what must hold: a decoded message's body reads back as the JSON it
//! came from and its TTL is within the limits; validated metadata validates again; a
//! subscription valid for creation is valid as an update; a patch applied to valid metadata
//! yields valid metadata or a client error.
#![no_main]

use cairn::actions::decode;
use cairn::model::catalogue::{pool_list, Pool, PoolPatch};
use cairn::model::{Limits, ProjectId, QueueMetadata, QueueName, SubscriptionSpec, Timestamp};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let limits = Limits::default();
    match which % 8 {
        0 => {
            let Ok(doc) = decode::parse_json(body) else {
                return;
            };
            let Ok(messages) = decode::messages(&doc, &limits) else {
                return;
            };
            for m in messages {
                let reread: Value = serde_json::from_str(m.body.as_json()).expect("a JSON body");
                assert!(m.ttl.is_none_or(|t| limits.message_ttl(t).is_ok()));
                let _ = reread;
            }
        }
        1 => {
            if let Ok(doc) = decode::parse_json(body) {
                let _ = decode::claim_options(&doc);
                let _ = decode::confirmation(&doc);
            }
        }
        2 => {
            if let Ok(doc) = decode::optional_json(body) {
                let _ = decode::purge_targets(doc.as_ref());
            }
        }
        3 => {
            let Ok(doc) = decode::parse_json(body) else {
                return;
            };
            if let Ok(metadata) = decode::metadata(&doc, &limits) {
                let _ = metadata.with_defaults(&limits);
                let again = QueueMetadata::new(metadata.into_map(), &limits);
                assert!(again.is_ok(), "valid metadata no longer valid");
            }
        }
        4 => {
            let Ok(doc) = decode::parse_json(body) else {
                return;
            };
            let Ok(ops) = decode::patch(&doc) else {
                return;
            };
            let project = ProjectId::new(Some("fuzz")).expect("a project");
            let queue = QueueName::new("fuzz", &project).expect("a queue");
            let stored = json!({"_default_message_ttl": 3600, "color": "blue"});
            let stored = QueueMetadata::new(stored.as_object().cloned().unwrap(), &limits)
                .expect("valid metadata");
            if let Err(e) =
                cairn::commands::queue::update(Some(&stored), &project, &queue, &ops, &limits)
            {
                assert!(e.status() < 500, "a patch failed with {e:?}");
            }
        }
        5 => {
            let Ok(doc) = decode::parse_json(body) else {
                return;
            };
            let now = Timestamp(1_700_000_000_000);
            if SubscriptionSpec::for_create(&doc, &limits, now).is_ok() {
                assert!(SubscriptionSpec::for_update(&doc, &limits, now).is_ok());
            }
        }
        6 => {
            if let Ok(doc) = decode::parse_json(body) {
                let _ = SubscriptionSpec::for_update(&doc, &limits, Timestamp(0));
            }
        }
        _ => {
            let Ok(doc) = decode::parse_json(body) else {
                return;
            };
            if let Ok(pool) = Pool::from_document(&doc) {
                if let Ok(patch) = PoolPatch::from_document(&doc) {
                    let _ = patch.apply(&pool);
                }
            }
            let _ = pool_list(&doc, false);
            let _ = pool_list(&doc, true);
        }
    }
});
