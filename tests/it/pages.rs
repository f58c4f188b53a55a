//! What the binary serves besides the API itself: the OpenAPI document (checked against the
//! running router, route by route and method by method), the API reference page at `/docs`
//! and the web console at `/console` with their embedded assets. The console's behaviour is
//! tested in a real browser by `tests/pages` (headless Chromium).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::common::{TestServer, START};
use cairn::model::clock::ManualClock;

const METHODS: [&str; 6] = ["get", "head", "put", "post", "patch", "delete"];

/// A documented path with every parameter filled in.
fn concrete(path: &str) -> String {
    path.replace("{queue_name}", "fruit")
        .replace("{message_id}", "0190a8e4-4c2e-7b3a-9f4e-1d2c3b4a5f60")
        .replace("{claim_id}", "0190a8e4-4c2e-7b3a-9f4e-1d2c3b4a5f61")
        .replace("{subscription_id}", "0190a8e4-4c2e-7b3a-9f4e-1d2c3b4a5f62")
        .replace("{pool_name}", "fast")
        .replace("{flavor_name}", "gold")
}

/// Checks every documented route against the router: `OPTIONS` on it answers with the
/// router's `Allow`, which must hold exactly the documented methods (plus the `HEAD` every
/// `GET` gets). Returns the documented paths.
async fn document_matches_router(server: &TestServer) -> BTreeSet<String> {
    let c = server.client();
    let doc = c.send(c.bare(Method::GET, "/v2/openapi.json")).await;
    doc.expect(200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let documented: BTreeSet<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_uppercase())
            .collect();
        let r = c.send(c.request(Method::OPTIONS, &concrete(path))).await;
        assert_eq!(r.status, 200, "OPTIONS {path}: {}", r.text);
        let mut allowed: BTreeSet<String> = r
            .header("allow")
            .unwrap_or_else(|| panic!("{path} has an Allow header"))
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        if documented.contains("GET") && !documented.contains("HEAD") {
            allowed.remove("HEAD");
        }
        assert_eq!(allowed, documented, "the methods of {path}");
        for method in &documented {
            let op = &item[method.to_lowercase()];
            assert!(op["operationId"].is_string(), "{method} {path} has an id");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        }
    }
    paths.keys().cloned().collect()
}

/// Every `$ref` in the document points at something it defines.
fn assert_refs_resolve(doc: &Value, at: &Value) {
    match at {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let found = target
                    .trim_start_matches("#/")
                    .split('/')
                    .try_fold(doc, |node, key| node.get(key));
                assert!(found.is_some(), "{target} is defined");
            }
            map.values().for_each(|v| assert_refs_resolve(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| assert_refs_resolve(doc, v)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route_the_router_serves() {
    let server = TestServer::start().await;
    let paths = document_matches_router(&server).await;
    for expected in [
        "/v2/queues/{queue_name}/messages",
        "/v2/queues/{queue_name}/claims/{claim_id}",
        "/v2/topics/{queue_name}/subscriptions/{subscription_id}/confirm",
        "/v2/events",
        "/v2/queues/{queue_name}/messages/{message_id}/history",
    ] {
        assert!(paths.contains(expected), "{expected} is documented");
    }
    assert!(!paths.iter().any(|p| p.starts_with("/v2/pools")));
    assert!(!paths
        .iter()
        .any(|p| p.starts_with("/v2/topics/{queue_name}/claims")));
    let c = server.client();
    let doc = c.send(c.bare(Method::GET, "/v2/openapi.json")).await.body;
    assert_refs_resolve(&doc, &doc);
    // Long polling is documented where it is served.
    let claim_params = doc["paths"]["/v2/queues/{queue_name}/claims"]["post"]["parameters"]
        .as_array()
        .expect("parameters");
    assert!(claim_params.iter().any(|p| p["name"] == "wait"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_admin_mode_the_document_has_pools_and_flavors_too() {
    let server = TestServer::custom(ManualClock::starting_at(START), |s| s.admin_mode = true).await;
    let paths = document_matches_router(&server).await;
    assert!(paths.contains("/v2/pools/{pool_name}"));
    assert!(paths.contains("/v2/flavors/{flavor_name}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_follows_the_servers_limits() {
    let server = TestServer::start().await;
    let c = server.client();
    let doc = c.send(c.bare(Method::GET, "/v2/openapi.json")).await.body;
    let ttl = &doc["components"]["schemas"]["NewMessages"]["properties"]["messages"]["items"]
        ["properties"]["ttl"];
    assert_eq!(ttl["minimum"], 60);
    assert_eq!(ttl["maximum"], 1_209_600);
}

/// Fetches a page and every script and stylesheet it names, checking types and policy.
async fn assert_page_and_assets(server: &TestServer, page: &str, title: &str) {
    let c = server.client();
    let r = c.send(c.bare(Method::GET, page)).await;
    r.expect(200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let policy = r.header("content-security-policy").expect("a policy");
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
    assert!(r.text.contains(&format!("<title>{title}</title>")));
    let assets: Vec<&str> = r
        .text
        .split(['"', '\''])
        .filter(|s| s.starts_with(page) && (s.ends_with(".js") || s.ends_with(".css")))
        .collect();
    assert_eq!(assets.len(), 2, "{page} names a script and a stylesheet");
    for asset in assets {
        let a = c.send(c.bare(Method::GET, asset)).await;
        a.expect(200);
        let kind = a.header("content-type").unwrap_or_default();
        match asset.ends_with(".js") {
            true => assert!(kind.starts_with("text/javascript"), "{asset}: {kind}"),
            false => assert!(kind.starts_with("text/css"), "{asset}: {kind}"),
        }
        assert!(
            !a.text.contains("http://") && !a.text.contains("https://"),
            "{asset} fetches nothing from elsewhere"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_and_the_reference_are_served_from_the_binary() {
    let server = TestServer::start().await;
    assert_page_and_assets(&server, "/console", "Cairn console").await;
    assert_page_and_assets(&server, "/docs", "Cairn API reference").await;
    let c = server.client();
    let r = c.send(c.bare(Method::GET, "/console/")).await;
    assert_eq!(r.status, 200, "the trailing slash leads to the console");
    let r = c.send(c.bare(Method::GET, "/console/nothing.js")).await;
    r.expect(404);
}
