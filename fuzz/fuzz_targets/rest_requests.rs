//! Whole REST requests through the real router and store: paths, query strings, headers and
//! bodies as a client could send them, several per input, so that later requests can act on
//! what earlier ones made (ids are harvested from the answers).
//!
//! The input is text, one request after another, separated by lines `===`:
//!
//! ```text
//! POST /v2/queues/q/messages?x=1
//! Content-Type: application/json
//!
//! {"messages": [{"body": 1, "ttl": 300}]}
//! ===
//! DELETE /v2/queues/q/messages/$m?claim_id=$c
//! ```
//!
//! `$m`, `$c` and `$s` stand for the last message, claim and subscription id an answer
//! named. Every input acts in a project of its own (its `X-Project-ID` is the harness's).
//!
//! What must hold for every request: no panic, no 500, an error answer with a body is a JSON
//! document with a `title` and a `description`, and a `HEAD` answer has no body.
#![no_main]

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri};
use cairn_fuzz::{fresh_project, node};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::ServiceExt;

/// Requests read from one input at most.
const MAX_REQUESTS: usize = 8;

#[derive(Default)]
struct Seen {
    message: Option<String>,
    claim: Option<String>,
    subscription: Option<String>,
}

impl Seen {
    fn substitute(&self, path: &str) -> String {
        let or_none = |id: &Option<String>| id.clone().unwrap_or_else(|| "none".into());
        path.replace("$m", &or_none(&self.message))
            .replace("$c", &or_none(&self.claim))
            .replace("$s", &or_none(&self.subscription))
    }

    /// Takes the ids an answer names: in `href`s and `Location`, and `subscription_id`.
    fn harvest(&mut self, location: Option<&str>, body: Option<&Value>) {
        if let Some(location) = location {
            self.harvest_text(location);
        }
        if let Some(body) = body {
            self.walk(body);
        }
    }

    fn walk(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.harvest_text(s),
            Value::Array(items) => items.iter().for_each(|i| self.walk(i)),
            Value::Object(map) => {
                if let Some(Value::String(id)) = map.get("subscription_id") {
                    self.subscription = Some(id.clone());
                }
                map.values().for_each(|i| self.walk(i));
            }
            _ => {}
        }
    }

    fn harvest_text(&mut self, text: &str) {
        let after = |marker: &str| {
            text.split_once(marker).map(|(_, rest)| {
                rest.split(['/', '?', ',', '&'])
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
        };
        if let Some(id) = after("/messages/").filter(|id| !id.is_empty()) {
            self.message = Some(id);
        }
        if let Some(id) = after("/claims/").filter(|id| !id.is_empty()) {
            self.claim = Some(id);
        }
        if let Some(id) = after("/subscriptions/").filter(|id| !id.is_empty()) {
            self.subscription = Some(id);
        }
    }
}

/// One request of the input: its request line, headers and body.
struct Part<'a> {
    method: &'a str,
    target: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a str,
}

fn parse(text: &str) -> Option<Part<'_>> {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let (method, target) = lines.next()?.trim().split_once(' ')?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
        .collect();
    Some(Part {
        method,
        target: target.trim(),
        headers,
        body,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let node = node();
    let project = fresh_project();
    let mut seen = Seen::default();
    for part in text.split("\n===\n").take(MAX_REQUESTS) {
        let Some(Part {
            method,
            target,
            headers,
            body,
        }) = parse(part)
        else {
            continue;
        };
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            continue;
        };
        // What hyper would refuse before the router sees it is not this target's business.
        let Ok(uri) = Uri::try_from(seen.substitute(target)) else {
            continue;
        };
        if uri.path_and_query().is_none() || !uri.path().starts_with('/') {
            continue;
        }
        let mut request = Request::builder().method(method.clone()).uri(uri);
        let mut client_id = false;
        for (name, value) in headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                continue;
            };
            if name == "x-project-id" {
                continue;
            }
            client_id |= name == "client-id";
            request = request.header(name, value);
        }
        if !client_id {
            request = request.header("Client-ID", "3381af92-2b9e-11e3-b191-71861300734c");
        }
        let request = request
            .header("X-Project-ID", project.as_str())
            .body(Body::from(body.as_bytes().to_vec()))
            .expect("a request of valid parts");
        let (status, location, content_type, bytes) = node.runtime.block_on(async {
            let response = node
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router answers");
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
                .await
                .expect("the body is read");
            let header = |name: &str| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            (
                parts.status,
                header("location"),
                header("content-type"),
                bytes,
            )
        });
        assert_ne!(status.as_u16(), 500, "an internal error for {part:?}");
        if method == Method::HEAD {
            assert!(bytes.is_empty(), "a HEAD answer with a body for {part:?}");
        }
        let json = content_type.is_some_and(|t| t.contains("json"));
        let doc = match json && !bytes.is_empty() {
            true => Some(
                serde_json::from_slice::<Value>(&bytes)
                    .unwrap_or_else(|e| panic!("an answer that is not JSON ({e}) for {part:?}")),
            ),
            false => None,
        };
        if status.is_client_error() || status.is_server_error() {
            if let Some(doc) = &doc {
                assert!(
                    doc.get("title").is_some_and(Value::is_string)
                        && doc.get("description").is_some_and(Value::is_string),
                    "an error without title and description for {part:?}: {doc}"
                );
            }
        }
        seen.harvest(location.as_deref(), doc.as_ref());
    }
});
