//! Project scoping (reference §1.5): a project sees and touches only its own queues,
//! messages and claims; the same queue name in two projects names two queues.

use crate::common::{default_metadata, metadata_with, Client, TestServer};
use serde_json::json;

/// Two tenants of one server.
fn tenants(server: &TestServer) -> (Client, Client) {
    let a = server.client();
    let b = server.client();
    assert_ne!(a.project, b.project);
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_project_cannot_see_a_projects_queues() {
    let server = TestServer::start().await;
    let (a, b) = tenants(&server);
    a.create_queue("private", &json!({"owner": "a"})).await;
    a.post_n("private", 2).await;

    let r = b.get("/v2/queues?detailed=true&with_count=true").await;
    r.expect(200);
    assert_eq!(r.body, json!({"queues": [], "links": []}));
    b.get("/v2/queues?owner=a").await.expect(200);
    assert_eq!(b.get("/v2/queues?owner=a").await.body["queues"], json!([]));
    b.head("/v2/queues/private").await.expect(404);
    assert_eq!(b.get("/v2/queues/private").await.body, default_metadata());
    assert_eq!(
        b.stats("private").await,
        json!({"claimed": 0, "free": 0, "total": 0})
    );
    b.patch_queue(
        "private",
        &json!([{"op": "add", "path": "/metadata/owner", "value": "b"}]),
    )
    .await
    .expect(404);

    assert_eq!(
        a.get("/v2/queues/private").await.body,
        metadata_with(json!({"owner": "a"}))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_project_cannot_read_or_claim_a_projects_messages() {
    let server = TestServer::start().await;
    let (a, b) = tenants(&server);
    let ids = a.post_n("q", 3).await;

    let r = b
        .get("/v2/queues/q/messages?echo=true&include_claimed=true")
        .await;
    r.expect(200);
    assert_eq!(r.body, json!({"messages": [], "links": []}));
    b.get(&format!("/v2/queues/q/messages/{}", ids[0]))
        .await
        .expect_error(404, "Not found");
    b.get(&format!("/v2/queues/q/messages?ids={}", ids.join(",")))
        .await
        .expect(404);
    assert!(b.claim("q", &json!({}), None).await.is_none());
    let popped = b.delete("/v2/queues/q/messages?pop=3").await;
    popped.expect(200);
    assert_eq!(popped.body, json!({"messages": []}));

    assert_eq!(a.list_ids("q", "echo=true").await, ids);
    assert_eq!(a.stats("q").await["free"], 3);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_project_cannot_delete_a_projects_queues_or_messages() {
    let server = TestServer::start().await;
    let (a, b) = tenants(&server);
    a.create_queue("q", &json!({"owner": "a"})).await;
    let ids = a.post_n("q", 3).await;

    b.delete(&format!("/v2/queues/q/messages/{}", ids[0]))
        .await
        .expect(204);
    b.delete(&format!("/v2/queues/q/messages?ids={},{}", ids[1], ids[2]))
        .await
        .expect(204);
    b.post_empty("/v2/queues/q/purge").await.expect(204);
    b.delete("/v2/queues/q").await.expect(204);

    a.head("/v2/queues/q").await.expect(204);
    assert_eq!(
        a.get("/v2/queues/q").await.body,
        metadata_with(json!({"owner": "a"}))
    );
    assert_eq!(a.list_ids("q", "echo=true").await, ids);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_project_cannot_read_renew_or_release_a_projects_claims() {
    let server = TestServer::start().await;
    let (a, b) = tenants(&server);
    let ids = a.post_n("q", 2).await;
    let (claim_id, _) = a
        .claim("q", &json!({"ttl": 100}), None)
        .await
        .expect("claim");
    let path = format!("/v2/queues/q/claims/{claim_id}");
    let message = format!("/v2/queues/q/messages/{}?claim_id={claim_id}", ids[0]);

    b.get(&path).await.expect_error(404, "Not found");
    b.patch(&path, &json!({"ttl": 500}))
        .await
        .expect_error(404, "Not found");
    b.delete(&path).await.expect(204);
    b.delete(&message).await.expect(204);

    let r = a.get(&path).await;
    r.expect(200);
    assert_eq!(r.body["ttl"], 100);
    assert_eq!(r.message_ids(), ids);
    assert_eq!(a.stats("q").await["claimed"], 2);
    assert!(a.claim("q", &json!({}), None).await.is_none());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_queue_name_in_two_projects_names_two_queues() {
    let server = TestServer::start().await;
    let (a, b) = tenants(&server);
    a.create_queue("jobs", &json!({"owner": "a", "_default_message_ttl": 600}))
        .await;
    // For project b the queue does not exist yet: 201, and its own metadata is kept.
    b.create_queue("jobs", &json!({"owner": "b"})).await;

    let a_ids = a.post_n("jobs", 2).await;
    let b_ids = b.post_n("jobs", 3).await;

    assert_eq!(
        a.get("/v2/queues/jobs").await.body,
        metadata_with(json!({"owner": "a", "_default_message_ttl": 600}))
    );
    assert_eq!(
        b.get("/v2/queues/jobs").await.body,
        metadata_with(json!({"owner": "b"}))
    );
    assert_eq!(a.list_ids("jobs", "echo=true").await, a_ids);
    assert_eq!(b.list_ids("jobs", "echo=true").await, b_ids);
    assert_eq!(a.stats("jobs").await["total"], 2);
    assert_eq!(b.stats("jobs").await["total"], 3);
    let a_msg = a
        .get(&format!("/v2/queues/jobs/messages/{}", a_ids[0]))
        .await;
    assert_eq!(a_msg.body["ttl"], 600);
    let b_msg = b
        .get(&format!("/v2/queues/jobs/messages/{}", b_ids[0]))
        .await;
    assert_eq!(b_msg.body["ttl"], 3600);

    let (_, claimed) = a.claim("jobs", &json!({}), None).await.expect("claim");
    assert_eq!(claimed.len(), 2);
    assert_eq!(b.stats("jobs").await["claimed"], 0);

    a.delete("/v2/queues/jobs").await.expect(204);
    b.head("/v2/queues/jobs").await.expect(204);
    assert_eq!(b.list_ids("jobs", "echo=true").await, b_ids);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_counts_and_pages_are_per_project() {
    let server = TestServer::start().await;
    let (a, b) = tenants(&server);
    for q in ["a1", "a2", "a3"] {
        a.create_queue(q, &json!({})).await;
    }
    for q in ["a0", "b1"] {
        b.create_queue(q, &json!({})).await;
    }

    let r = a.get("/v2/queues?with_count=true").await;
    assert_eq!(r.body["count"], 3);
    assert_eq!(
        r.body["queues"],
        json!([
            {"name": "a1", "href": "/v2/queues/a1"},
            {"name": "a2", "href": "/v2/queues/a2"},
            {"name": "a3", "href": "/v2/queues/a3"},
        ])
    );
    let r = b.get("/v2/queues?with_count=true&name=a").await;
    assert_eq!(r.body["count"], 2);
    assert_eq!(
        r.body["queues"],
        json!([{"name": "a0", "href": "/v2/queues/a0"}])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettering_stays_inside_the_project() {
    let server = TestServer::start().await;
    let (a, b) = tenants(&server);
    b.create_queue("dlq", &json!({"owner": "b"})).await;
    a.create_queue(
        "work",
        &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq"}),
    )
    .await;
    let id = a.post_one("work", json!("x")).await;
    let (claim_id, _) = a.claim("work", &json!({}), None).await.expect("claim");
    a.delete(&format!("/v2/queues/work/claims/{claim_id}"))
        .await
        .expect(204);
    assert!(a.claim("work", &json!({}), None).await.is_none());

    a.get(&format!("/v2/queues/dlq/messages/{id}"))
        .await
        .expect(200);
    b.get(&format!("/v2/queues/dlq/messages/{id}"))
        .await
        .expect(404);
    assert_eq!(b.stats("dlq").await["total"], 0);
    server.shutdown().await;
}
