//! Version discovery, the JSON-home document, ping, health and the request-id header
//! (reference §2.1–2.3, §9).

use crate::common::TestServer;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_document_needs_no_headers_and_answers_300() {
    let server = TestServer::start().await;
    let c = server.client();

    let r = c.send(c.bare(Method::GET, "/")).await;

    r.expect(300);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        r.body,
        json!({"versions": [{
            "id": "2",
            "status": "CURRENT",
            "updated": "2014-9-24T04:06:47Z",
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.messaging-v2+json"}],
            "links": [{"href": "/v2/", "rel": "self"}],
        }]})
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_document_is_served_at_v2_with_and_without_slash() {
    let server = TestServer::start().await;
    let c = server.client();

    for path in ["/v2/", "/v2"] {
        let r = c.get(path).await;
        r.expect(200);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json-home"),
            "{path}: {r:?}"
        );
        assert_eq!(r.header("cache-control"), Some("max-age=86400"));
        let resources = r.body["resources"].as_object().expect("resources");
        assert_eq!(
            resources["rel/queues"]["href-template"],
            "/v2/queues{?marker,limit,detailed}"
        );
        assert_eq!(
            resources["rel/queue"]["href-template"],
            "/v2/queues/{queue_name}"
        );
        assert_eq!(
            resources["rel/queue"]["href-vars"]["queue_name"],
            "param/queue_name"
        );
        assert_eq!(
            resources["rel/post_claim"]["href-template"],
            "/v2/queues/{queue_name}/claims{?limit}"
        );
        for rel in [
            "rel/queue_stats",
            "rel/queue_purge",
            "rel/messages",
            "rel/post_messages",
            "rel/messages_delete",
            "rel/message_delete",
            "rel/message_get",
            "rel/claim",
            "rel/patch_claim",
            "rel/delete_claim",
        ] {
            let entry = &resources[rel];
            assert!(entry["href-template"].is_string(), "{rel} in {r:?}");
            assert!(entry["hints"]["allow"].is_array(), "{rel} in {r:?}");
            assert_eq!(entry["hints"]["formats"], json!({"application/json": {}}));
        }
        assert_eq!(resources["rel/ping"]["href"], "/v2/ping");
        // Zaqar's relations of shares and subscriptions, and its parameter names.
        for (rel, template, allow) in [
            ("rel/queue_share", "/v2/queues/{queue_name}/share", "POST"),
            (
                "rel/subscriptions_get",
                "/v2/queues/{queue_name}/subscriptions{?marker,limit}",
                "GET",
            ),
            (
                "rel/subscriptions_post",
                "/v2/queues/{queue_name}/subscriptions",
                "POST",
            ),
            (
                "rel/subscription",
                "/v2/queues/{queue_name}/subscriptions/{subscriptions_id}",
                "GET",
            ),
            (
                "rel/subscription_patch",
                "/v2/queues/{queue_name}/subscriptions/{subscriptions_id}",
                "PATCH",
            ),
        ] {
            assert_eq!(resources[rel]["href-template"], template, "{rel}");
            assert_eq!(resources[rel]["hints"]["allow"][0], allow, "{rel}");
        }
        let param = |rel: &str, var: &str| resources[rel]["href-vars"][var].clone();
        assert_eq!(param("rel/queues", "limit"), "param/queue_limit");
        assert_eq!(param("rel/messages", "limit"), "param/messages_limit");
        assert_eq!(param("rel/post_claim", "limit"), "param/claim_limit");
        assert_eq!(param("rel/message_delete", "claim"), "param/claim_id");
        assert_eq!(
            param("rel/subscriptions_get", "limit"),
            "param/subscription_limit"
        );
        assert_eq!(
            resources["rel/queue_share"]["hints"]["accept-post"],
            json!(["application/json"])
        );
        assert!(resources["rel/queue"]["hints"]["accept-post"].is_null());
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_document_requires_client_and_project_headers() {
    let server = TestServer::start().await;
    let c = server.client();

    let no_client = c
        .send(c.bare(Method::GET, "/v2/").header("X-Project-ID", "p"))
        .await;
    no_client.expect_error(400, "Missing header value");

    let no_project = c
        .send(
            c.bare(Method::GET, "/v2/")
                .header("Client-ID", &c.client_id),
        )
        .await;
    no_project.expect_error(400, "Project-Id Missing");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_answers_204_to_get_and_head() {
    let server = TestServer::start().await;
    let c = server.client();

    c.get("/v2/ping").await.expect(204).expect_empty();
    c.head("/v2/ping").await.expect(204).expect_empty();

    let without_client_id = c
        .send(c.bare(Method::GET, "/v2/ping").header("X-Project-ID", "p"))
        .await;
    without_client_id.expect_error(400, "Missing header value");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_storage_and_the_projects_message_volume() {
    let server = TestServer::start().await;
    let c = server.client();
    c.post_n("work", 3).await;
    c.claim("work", &json!({}), Some(1)).await.expect("a claim");

    let r = c.get("/v2/health").await;

    r.expect(200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(r.body["storage_reachable"], true);
    let checks = r.body["operation_status"]
        .as_object()
        .expect("operation_status");
    assert!(!checks.is_empty());
    for (name, check) in checks {
        assert_eq!(check["succeeded"], true, "{name}: {r:?}");
        assert!(check["seconds"].is_number(), "{name}: {r:?}");
        assert!(check.get("ref").is_some(), "{name}: {r:?}");
    }
    assert_eq!(
        r.body["message_volume"],
        json!({"free": 2, "claimed": 1, "total": 3})
    );

    let other_project = c.with_project("someone-else").get("/v2/health").await;
    other_project.expect(200);
    assert_eq!(
        other_project.body["message_volume"],
        json!({"free": 0, "claimed": 0, "total": 0})
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let server = TestServer::start().await;
    let c = server.client();

    let ok = c.get("/v2/queues").await;
    let error = c.get("/v2/queues?limit=0").await;
    let unknown = c.get("/v2/nowhere").await;

    for r in [&ok, &error, &unknown] {
        let id = r.header("x-openstack-request-id").expect("request id");
        assert!(id.starts_with("req-"), "{r:?}");
        assert!(uuid::Uuid::parse_str(&id["req-".len()..]).is_ok(), "{r:?}");
    }
    assert_ne!(
        ok.header("x-openstack-request-id"),
        error.header("x-openstack-request-id")
    );
    server.shutdown().await;
}
