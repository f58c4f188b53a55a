//! WebSocket frames, JSON (text) and MessagePack (binary), read as the session reads them:
//! the payload decoded, the envelope checked, the identity headers validated, the action
//! decoded from the frame's body, then run on a real node and its answer encoded back in the
//! frame's codec. The first byte picks the codec, the rest is the payload.
//!
//! What must hold: no panic, no 500, and every answer encodes. Each input acts in a project
//! of its own; frames that bind the connection (`authenticate`, `event_subscribe`, push
//! subscriptions) are only decoded, since they need a live connection.
#![no_main]

use std::sync::Arc;

use cairn::actions::Context;
use cairn::auth::Principal;
use cairn::model::{ClientId, ProjectId};
use cairn::transports::websocket::dispatch::{decode_action, is_action};
use cairn::transports::websocket::protocol::{envelope, response, Codec};
use cairn::transports::websocket::request::{Frame, Refusal, Request};
use cairn_fuzz::{fresh_project, node};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    let codec = match which % 2 {
        0 => Codec::Json,
        _ => Codec::MsgPack,
    };
    let Ok(doc) = codec.decode(payload) else {
        return;
    };
    let Ok(envelope) = envelope(doc) else {
        return;
    };
    if !is_action(&envelope.action) {
        return;
    }
    let limits = node().core.limits.clone();
    let Ok(Some(client)) = envelope.header("Client-ID") else {
        return;
    };
    let Ok(client_id) = ClientId::new(
        Some(client),
        limits.client_id_uuid_safe,
        limits.min_length_client_id,
        limits.max_length_client_id,
    ) else {
        return;
    };
    let Ok(Some(named)) = envelope.header("X-Project-ID") else {
        return;
    };
    if ProjectId::new(Some(named)).is_err() {
        return;
    }
    let project = fresh_project();
    let node = node();
    let frame = Frame {
        body: &envelope.body,
        project: &project,
        limits: &limits,
        now: node.core.clock.now(),
        admin: false,
    };
    let (status, body, seq) = match decode_action(&envelope.action, &frame) {
        Ok(Request::Api(call)) => {
            let _ = call.route();
            let ctx = Context {
                project: project.clone(),
                principal: Arc::new(Principal::open(project.clone())),
                client_id,
                request_id: "req-fuzz".into(),
            };
            node.runtime.block_on(call.call(&node.core, &ctx))
        }
        Ok(Request::Immediate(status, body)) => (status, body, None),
        Ok(Request::Subscribe { .. }) => return,
        Err(Refusal::Rejected(r)) => (r.status, json!({ "error": r.error }), None),
        Err(Refusal::Invalid(e)) => (e.status(), json!({ "error": e.to_string() }), None),
    };
    assert_ne!(status, 500, "an internal error: {body}");
    let _ = codec.encode(&response(envelope.into_echo(), status, body, seq));
});
