//! Pools and flavors: the admin API (reference §8) over REST and WebSocket, with Zaqar's
//! validation and errors, recorded in the catalogue (which survives a restart) and served
//! only in admin mode.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::common::audit::{assert_exit, cairn_replay_in_place, cairn_verify};
use crate::common::ws::{Codec, WsClient};
use crate::common::{Client, TestServer, START};
use cairn::model::clock::ManualClock;

/// A server in admin mode.
async fn admin_server() -> TestServer {
    TestServer::custom(ManualClock::starting_at(START), |s| s.admin_mode = true).await
}

/// A pool's URI: an SQLite file beside the server's own store.
fn pool_uri(server: &TestServer, name: &str) -> String {
    format!(
        "sqlite://{}",
        server.dir().path().join(format!("{name}.db")).display()
    )
}

async fn put_pool(client: &Client, server: &TestServer, name: &str, extra: Value) {
    let mut doc = json!({"uri": pool_uri(server, name), "weight": 100});
    if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
        doc.extend(extra.clone());
    }
    let created = client.put(&format!("/v2/pools/{name}"), &doc).await;
    created.expect(201).expect_empty();
    assert_eq!(created.location(), format!("/v2/pools/{name}"));
}

#[tokio::test]
async fn without_admin_mode_there_are_no_pools_or_flavors() {
    let server = TestServer::start().await;
    let client = server.client();
    client.get("/v2/pools").await.expect(404);
    client.get("/v2/flavors").await.expect(404);
    let doc = json!({"uri": pool_uri(&server, "a"), "weight": 1});
    client.put("/v2/pools/a", &doc).await.expect(404);
    let mut ws = WsClient::open(&server, Codec::Json).await;
    ws.send("pool_list", json!({})).await.expect_error(404);
    server.shutdown().await;
}

#[tokio::test]
async fn a_pool_is_registered_read_changed_and_deleted() {
    let server = admin_server().await;
    let client = server.client();
    put_pool(&client, &server, "p1", json!({"options": {"a": 1}})).await;
    assert!(
        server.dir().path().join("p1.db").exists(),
        "registering a pool opens (creates) its store"
    );
    let got = client.get("/v2/pools/p1").await;
    got.expect(200);
    assert_eq!(got.body["name"], "p1");
    assert_eq!(got.body["weight"], 100);
    assert_eq!(got.body["href"], "/v2/pools/p1");
    assert_eq!(got.body["flavor"], Value::Null);
    assert!(
        got.body.get("options").is_none(),
        "options only when detailed"
    );
    let detailed = client.get("/v2/pools/p1?detailed=True").await;
    assert_eq!(detailed.expect(200).body["options"], json!({"a": 1}));

    // PUT again overwrites.
    let doc = json!({"uri": pool_uri(&server, "p1"), "weight": 7});
    client.put("/v2/pools/p1", &doc).await.expect(201);
    assert_eq!(client.get("/v2/pools/p1").await.body["weight"], 7);

    // PATCH changes the fields it names, ignores others, and answers the pool.
    let patch = json!({"weight": 101, "options": {"b": 2}, "location": 100, "partition": "taco"});
    let patched = client.patch("/v2/pools/p1", &patch).await;
    patched.expect(200);
    assert_eq!(patched.body["weight"], 101);
    assert_eq!(patched.body["href"], "/v2/pools/p1");
    assert!(patched.body.get("options").is_none());
    let detailed = client.get("/v2/pools/p1?detailed=true").await;
    assert_eq!(detailed.body["options"], json!({"b": 2}));

    client
        .delete("/v2/pools/p1")
        .await
        .expect(204)
        .expect_empty();
    client
        .get("/v2/pools/p1")
        .await
        .expect_error(404, "Not found");
    // Deleting what is not there is done already.
    client.delete("/v2/pools/p1").await.expect(204);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_pool_documents_get_zaqars_errors() {
    let server = admin_server().await;
    let client = server.client();
    let uri = pool_uri(&server, "p");
    for bad in [
        json!({"weight": 100}),
        json!({"uri": uri}),
        json!({"weight": -1, "uri": uri}),
        json!({"weight": 4294967297u64, "uri": uri}),
        json!({"weight": "big", "uri": uri}),
        json!({"weight": 1, "uri": uri, "options": "wee"}),
        json!({"weight": 1, "uri": uri, "options": []}),
        json!({"weight": 1, "uri": uri, "location": 1}),
    ] {
        let refused = client.put("/v2/pools/p", &bad).await;
        refused.expect_error(400, "Invalid request body");
    }
    // A store that cannot be opened is never recorded.
    for unreachable in [
        json!(-1),
        json!([]),
        json!("localhost:27017"),
        json!("mongodb://127.0.0.1:27017"),
        json!("sqlite:///dev/null/cairn.db"),
    ] {
        let doc = json!({"weight": 1, "uri": unreachable});
        client
            .put("/v2/pools/p", &doc)
            .await
            .expect_error(400, "Invalid request body");
    }
    let refused = client
        .put(
            "/v2/pools/p",
            &json!({"weight": 1, "uri": "sqlite:///dev/null/x.db"}),
        )
        .await;
    assert_eq!(
        refused.description(),
        "cannot connect to sqlite:///dev/null/x.db"
    );
    client.get("/v2/pools/p").await.expect(404);

    // One URI, one pool.
    put_pool(&client, &server, "p", json!({})).await;
    let same_uri = json!({"weight": 1, "uri": uri});
    client
        .put("/v2/pools/other", &same_uri)
        .await
        .expect_error(409, "Resource conflict");

    // PATCH needs one of the pool's fields, each valid.
    client
        .patch("/v2/pools/p", &json!({"location": 1}))
        .await
        .expect_error(400, "Invalid request body");
    for bad in [
        json!({"weight": -1}),
        json!({"weight": "big"}),
        json!({"uri": []}),
        json!({"uri": "localhost:27017"}),
        json!({"options": "wee"}),
    ] {
        client
            .patch("/v2/pools/p", &bad)
            .await
            .expect_error(400, "Invalid request body");
    }
    client
        .patch("/v2/pools/notexists", &json!({"weight": 1}))
        .await
        .expect_error(404, "Not found");
    client
        .put("/v2/pools/bad%20name", &same_uri)
        .await
        .expect_error(400, "Invalid API request");
    server.shutdown().await;
}

#[tokio::test]
async fn pool_listings_page_by_name_with_a_next_link() {
    let server = admin_server().await;
    let client = server.client();
    let empty = client.get("/v2/pools").await;
    assert_eq!(empty.expect(200).body, json!({"pools": [], "links": []}));
    for i in 0..15 {
        put_pool(
            &client,
            &server,
            &format!("{i:02}"),
            json!({"options": {"i": i}}),
        )
        .await;
    }
    let first = client.get("/v2/pools?limit=10&detailed=true").await;
    first.expect(200);
    assert_eq!(
        first.header("content-location"),
        Some("/v2/pools?limit=10&detailed=true")
    );
    let pools = first.body["pools"].as_array().expect("pools");
    assert_eq!(pools.len(), 10);
    assert_eq!(pools[0]["name"], "00");
    assert_eq!(pools[3]["options"], json!({"i": 3}));
    let next = first.next_link().expect("a next link");
    assert!(next.starts_with("/v2/pools?"), "{next}");
    assert!(
        next.contains("marker=09") && next.contains("limit=10"),
        "{next}"
    );
    let second = client.get(&next).await;
    let rest = second.expect(200).body["pools"]
        .as_array()
        .expect("pools")
        .clone();
    assert_eq!(rest.len(), 5);
    assert_eq!(rest[0]["name"], "10");
    assert!(rest[0].get("options").is_some());
    let plain = client.get("/v2/pools?marker=03").await;
    let names: Vec<_> = plain.body["pools"]
        .as_array()
        .expect("pools")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("04"));
    assert_eq!(names.len(), 10, "the default page is 10");
    assert!(plain.body["pools"][0].get("options").is_none());
    for bad in [
        "limit=0&detailed=True",
        "limit=21",
        "limit=x",
        "detailed=maybe",
    ] {
        client.get(&format!("/v2/pools?{bad}")).await.expect(400);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_flavor_takes_its_pools_and_keeps_the_last_one_from_deletion() {
    let server = admin_server().await;
    let client = server.client();
    put_pool(&client, &server, "mypool", json!({})).await;
    put_pool(&client, &server, "spare", json!({})).await;
    let doc = json!({"capabilities": {}, "pool_list": ["mypool"]});
    let created = client.put("/v2/flavors/test-flavor", &doc).await;
    created.expect(201).expect_empty();
    assert_eq!(created.location(), "/v2/flavors/test-flavor");
    let got = client.get("/v2/flavors/test-flavor").await;
    got.expect(200);
    assert_eq!(got.body["name"], "test-flavor");
    assert_eq!(got.body["href"], "/v2/flavors/test-flavor");
    assert_eq!(got.body["pool_list"], json!(["mypool"]));
    assert_eq!(
        got.body["capabilities"],
        json!(["FIFO", "CLAIMS", "DURABILITY", "AOD", "HIGH_THROUGHPUT"])
    );
    assert_eq!(
        client.get("/v2/pools/mypool").await.body["flavor"],
        "test-flavor"
    );

    // The last pool of a flavor cannot go.
    let refused = client.delete("/v2/pools/mypool").await;
    refused.expect_error(403, "Unable to delete");
    assert_eq!(
        refused.description(),
        "This pool is used by flavors test-flavor; It cannot be deleted."
    );

    // PATCH makes the list exact: mypool leaves, spare joins.
    let patch = json!({"pool_list": ["spare"], "capabilities": [], "location": 100});
    let patched = client.patch("/v2/flavors/test-flavor", &patch).await;
    patched.expect(200);
    assert_eq!(patched.body["pool_list"], json!(["spare"]));
    assert_eq!(patched.body["href"], "/v2/flavors/test-flavor");
    assert_eq!(
        client.get("/v2/pools/mypool").await.body["flavor"],
        Value::Null
    );
    assert_eq!(
        client.get("/v2/pools/spare").await.body["flavor"],
        "test-flavor"
    );
    client.delete("/v2/pools/mypool").await.expect(204);

    // Deleting the flavor frees its pools.
    client.delete("/v2/flavors/test-flavor").await.expect(204);
    client
        .get("/v2/flavors/test-flavor")
        .await
        .expect_error(404, "Not found");
    assert_eq!(
        client.get("/v2/pools/spare").await.body["flavor"],
        Value::Null
    );
    client.delete("/v2/flavors/test-flavor").await.expect(204);
    client.delete("/v2/pools/spare").await.expect(204);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_flavor_documents_get_zaqars_errors() {
    let server = admin_server().await;
    let client = server.client();
    for bad in [
        json!({}),
        json!({"capabilities": {}}),
        json!({"pool_list": 1}),
        json!({"pool_list": "p"}),
    ] {
        client
            .put("/v2/flavors/f", &bad)
            .await
            .expect_error(400, "Invalid request body");
    }
    let empty = client.put("/v2/flavors/f", &json!({"pool_list": []})).await;
    empty.expect_error(400, "Unable to create");
    let missing = client
        .put("/v2/flavors/test-flavor", &json!({"pool_list": ["mypool"]}))
        .await;
    missing.expect(400);
    assert_eq!(
        missing.body,
        json!({"title": "Unable to create", "description":
            "Flavor test-flavor could not be created, error:Pool mypool does not exist"})
    );
    client
        .patch("/v2/flavors/notexists", &json!({"pool_list": ["test"]}))
        .await
        .expect_error(404, "Not found");
    put_pool(&client, &server, "p", json!({})).await;
    client
        .put("/v2/flavors/f", &json!({"pool_list": ["p"]}))
        .await
        .expect(201);
    client
        .patch("/v2/flavors/f", &json!({"location": 1}))
        .await
        .expect_error(400, "Invalid request body");
    client
        .patch("/v2/flavors/f", &json!({"capabilities": "wee"}))
        .await
        .expect_error(400, "Invalid request body");
    let unknown = client
        .patch("/v2/flavors/f", &json!({"pool_list": ["nope"]}))
        .await;
    unknown.expect_error(400, "updatefail");
    assert_eq!(
        unknown.description(),
        "Flavor f cant be updated, error:Pool nope does not exist"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn flavors_belong_to_their_project_and_list_by_name() {
    let server = admin_server().await;
    let client = server.client();
    let other = client.with_project("another-project");
    for i in 0..12 {
        let pool = format!("pool{i:02}");
        put_pool(&client, &server, &pool, json!({})).await;
        let doc = json!({"pool_list": [pool]});
        client
            .put(&format!("/v2/flavors/{i:02}"), &doc)
            .await
            .expect(201);
    }
    let page = client.get("/v2/flavors?limit=5&detailed=true").await;
    page.expect(200);
    assert!(page.header("content-location").is_none());
    let flavors = page.body["flavors"].as_array().expect("flavors");
    assert_eq!(flavors.len(), 5);
    assert_eq!(flavors[0]["href"], "/v2/flavors/00");
    assert_eq!(flavors[0]["pool_list"], json!(["pool00"]));
    assert_eq!(flavors[0]["capabilities"].as_array().map(Vec::len), Some(5));
    let next = page.next_link().expect("next link");
    assert!(next.contains("marker=04"), "{next}");
    let after = client.get("/v2/flavors?marker=03").await;
    let flavors = after.body["flavors"].as_array().expect("flavors");
    assert_eq!(flavors.len(), 8);
    assert_eq!(flavors[0]["href"], "/v2/flavors/04");
    assert!(flavors[0].get("capabilities").is_none());
    client
        .get("/v2/flavors?limit=0&detailed=True")
        .await
        .expect_error(400, "Invalid API request");
    // Another project sees none of them, but the pools are everyone's.
    let theirs = other.get("/v2/flavors").await;
    assert_eq!(theirs.body, json!({"flavors": [], "links": []}));
    other.get("/v2/flavors/00").await.expect(404);
    let pools = other.get("/v2/pools?limit=20").await;
    assert_eq!(pools.body["pools"].as_array().map(Vec::len), Some(12));
    server.shutdown().await;
}

#[tokio::test]
async fn the_catalogue_survives_a_restart_and_a_replay() {
    let clock = ManualClock::starting_at(START);
    let server = TestServer::custom(clock.clone(), |s| s.admin_mode = true).await;
    let dir = server.dir();
    let client = server.client();
    put_pool(&client, &server, "kept", json!({"options": {"k": true}})).await;
    client
        .put("/v2/flavors/gold", &json!({"pool_list": ["kept"]}))
        .await
        .expect(201);
    let settings_dir = Arc::clone(&dir);
    server.shutdown().await;
    if !crate::common::on_postgres() {
        // The catalogue is a read model like the others: verify checks it, replay rebuilds it.
        assert_exit(&cairn_verify(dir.path()), 0, "verify with a catalogue");
        assert_exit(
            &cairn_replay_in_place(dir.path()),
            0,
            "replay with a catalogue",
        );
    }
    let store = crate::common::store_url(&settings_dir).await;
    let reopened = TestServer::custom_in(settings_dir, store, clock, |s| s.admin_mode = true).await;
    let client = Client::new(&reopened.base, &client.client_id, &client.project);
    let pool = client.get("/v2/pools/kept?detailed=true").await;
    pool.expect(200);
    assert_eq!(pool.body["options"], json!({"k": true}));
    assert_eq!(pool.body["flavor"], "gold");
    let flavor = client.get("/v2/flavors/gold").await;
    assert_eq!(flavor.expect(200).body["pool_list"], json!(["kept"]));
    reopened.shutdown().await;
}

#[tokio::test]
async fn the_admin_actions_answer_over_websocket() {
    let server = admin_server().await;
    for codec in Codec::ALL {
        let mut ws = WsClient::open(&server, codec).await;
        let name = format!("ws-{codec:?}").to_lowercase();
        let uri = pool_uri(&server, &name);
        ws.send(
            "pool_create",
            json!({"pool_name": name, "uri": uri, "weight": 3}),
        )
        .await
        .expect(201);
        ws.send("pool_create", json!({"pool_name": name, "weight": 3}))
            .await
            .expect_error(400);
        let got = ws
            .send("pool_get", json!({"pool_name": name, "detailed": true}))
            .await;
        got.expect(200);
        assert_eq!(got.body["weight"], 3);
        assert_eq!(got.body["options"], json!({}));
        let updated = ws
            .send("pool_update", json!({"pool_name": name, "weight": 9}))
            .await;
        assert_eq!(updated.expect(200).body["weight"], 9);
        let flavor = format!("{name}-flavor");
        ws.send(
            "flavor_create",
            json!({"flavor_name": flavor, "pool_list": [name]}),
        )
        .await
        .expect(201);
        let got = ws.send("flavor_get", json!({"flavor_name": flavor})).await;
        assert_eq!(got.expect(200).body["pool_list"], json!([name]));
        let listed = ws.send("flavor_list", json!({"detailed": true})).await;
        assert_eq!(listed.expect(200).body["flavors"][0]["name"], json!(flavor));
        ws.send("pool_delete", json!({"pool_name": name}))
            .await
            .expect_error(403);
        ws.send(
            "flavor_update",
            json!({"flavor_name": flavor, "pool_list": ["nope"]}),
        )
        .await
        .expect_error(400);
        ws.send("flavor_delete", json!({"flavor_name": flavor}))
            .await
            .expect(204);
        ws.send("pool_delete", json!({"pool_name": name}))
            .await
            .expect(204);
        let listed = ws.send("pool_list", json!({})).await;
        assert_eq!(listed.expect(200).body["pools"], json!([]));
        ws.send("pool_get", json!({"pool_name": name}))
            .await
            .expect_error(404);
    }
    server.shutdown().await;
}

/// The messages of `queue` (any project) in the `messages` table of the SQLite store at
/// `path`, read directly.
fn rows_in(path: &std::path::Path, queue: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the store's file");
    conn.query_row(
        "SELECT COUNT(*) FROM messages WHERE queue = ?1",
        [queue],
        |r| r.get(0),
    )
    .expect("count messages")
}

#[tokio::test]
async fn queues_live_on_the_pools_their_flavor_and_weight_choose() {
    let server = admin_server().await;
    let client = server.client();
    let dir = server.dir();
    put_pool(&client, &server, "plain", json!({})).await;
    put_pool(&client, &server, "idle", json!({"weight": 0})).await;
    put_pool(&client, &server, "fast", json!({"flavor": "gold"})).await;
    client
        .put("/v2/flavors/gold", &json!({"pool_list": ["fast"]}))
        .await
        .expect(201);
    client
        .create_queue("golden", &json!({"_flavor": "gold"}))
        .await;
    client.create_queue("ordinary", &json!({})).await;
    client.post_n("golden", 3).await;
    client.post_n("ordinary", 2).await;
    // A first post creates and places a queue too.
    client.post_n("lazy", 4).await;

    let file = |pool: &str| dir.path().join(format!("{pool}.db"));
    assert_eq!(
        rows_in(&file("fast"), "golden"),
        3,
        "a gold queue lives on the gold pool"
    );
    assert_eq!(rows_in(&file("plain"), "golden"), 0);
    assert_eq!(
        rows_in(&file("plain"), "ordinary"),
        2,
        "weight 0 takes no queue"
    );
    assert_eq!(rows_in(&file("plain"), "lazy"), 4);
    assert_eq!(
        rows_in(&file("idle"), "ordinary") + rows_in(&file("idle"), "lazy"),
        0
    );
    assert_eq!(
        rows_in(&file("fast"), "ordinary"),
        0,
        "a flavored pool takes only its flavor"
    );
    if !crate::common::on_postgres() {
        let home = dir.path().join("cairn.db");
        assert_eq!(rows_in(&home, "golden") + rows_in(&home, "ordinary"), 0);
    }

    // Every operation finds the queue where it lives.
    assert_eq!(client.stats("golden").await["total"], 3);
    assert_eq!(client.list_ids("lazy", "echo=true").await.len(), 4);
    let (claim, claimed) = client
        .claim("ordinary", &json!({"ttl": 60}), Some(1))
        .await
        .expect("a claim");
    assert_eq!(claimed.len(), 1);
    let claim_path = format!("/v2/queues/ordinary/claims/{claim}");
    client.get(&claim_path).await.expect(200);
    let listed = client.get("/v2/queues?limit=3").await;
    let names: Vec<_> = listed.body["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| q["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        names,
        ["golden", "lazy", "ordinary"],
        "one listing over every pool"
    );
    let counted = client.get("/v2/queues?with_count=true").await;
    assert_eq!(counted.body["count"], 3);
    // Health, as Zaqar's pooled document: the catalogue, then each pool.
    let health = client.get("/v2/health").await;
    health.expect(200);
    assert_eq!(health.body["catalog_reachable"], true);
    assert_eq!(health.body["storage_reachable"], true);
    assert_eq!(health.body["fast"]["storage_reachable"], true);
    assert_eq!(health.body["fast"]["message_volume"]["total"], 3);
    assert_eq!(health.body["plain"]["message_volume"]["claimed"], 1);
    assert_eq!(health.body["message_volume"]["total"], 9);

    // A pool that holds queues cannot go; once its queues are deleted it can.
    let refused = client.delete("/v2/pools/plain").await;
    refused.expect_error(403, "Unable to delete");
    assert!(
        refused.description().contains("holds 2 queues"),
        "{refused:?}"
    );
    client.delete("/v2/queues/ordinary").await.expect(204);
    client.delete("/v2/queues/lazy").await.expect(204);
    assert_eq!(rows_in(&file("plain"), "lazy"), 0);
    client.delete("/v2/pools/plain").await.expect(204);

    // An unknown flavor is refused, as Zaqar refuses it.
    client
        .put("/v2/queues/nowhere", &json!({"_flavor": "silver"}))
        .await
        .expect_error(400, "Invalid API request");
    server.shutdown().await;
}

#[tokio::test]
async fn places_survive_a_restart() {
    let clock = ManualClock::starting_at(START);
    let server = TestServer::custom(clock.clone(), |s| s.admin_mode = true).await;
    let dir = server.dir();
    let client = server.client();
    put_pool(&client, &server, "only", json!({})).await;
    client.post_n("kept", 5).await;
    server.shutdown().await;
    // A pool is a store: verify and replay take it by its URL.
    let pool = format!("sqlite://{}", dir.path().join("only.db").display());
    let verified = crate::common::audit::cairn(&["verify", "--store", &pool, "--quiet"]);
    assert_exit(&verified, 0, "verify a pool");
    let store = crate::common::store_url(&dir).await;
    let reopened = TestServer::custom_in(dir.clone(), store, clock, |s| s.admin_mode = true).await;
    let client = Client::new(&reopened.base, &client.client_id, &client.project);
    assert_eq!(client.list_ids("kept", "echo=true").await.len(), 5);
    client.post_n("kept", 1).await;
    assert_eq!(rows_in(&dir.path().join("only.db"), "kept"), 6);
    reopened.shutdown().await;
}

#[tokio::test]
async fn queues_created_before_any_pool_stay_where_they_are() {
    let server = admin_server().await;
    let client = server.client();
    client.post_n("early", 2).await;
    put_pool(&client, &server, "late", json!({})).await;
    client.post_n("early", 1).await;
    client.post_n("fresh", 1).await;
    assert_eq!(client.list_ids("early", "echo=true").await.len(), 3);
    assert_eq!(rows_in(&server.dir().path().join("late.db"), "early"), 0);
    assert_eq!(rows_in(&server.dir().path().join("late.db"), "fresh"), 1);
    // No pool may be the node's own store.
    if !crate::common::on_postgres() {
        let home = format!(
            "sqlite://{}",
            server.dir().path().join("cairn.db").display()
        );
        client
            .put("/v2/pools/home", &json!({"uri": home, "weight": 1}))
            .await
            .expect_error(409, "Resource conflict");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn dead_letters_and_pushes_follow_a_queue_to_its_pool() {
    let server = admin_server().await;
    let client = server.client();
    put_pool(&client, &server, "only", json!({})).await;
    client
        .create_queue(
            "work",
            &json!({"_max_claim_count": 1, "_dead_letter_queue": "dlq"}),
        )
        .await;
    let id = client.post_one("work", json!({"job": 1})).await;
    let (claim, _) = client
        .claim("work", &json!({}), None)
        .await
        .expect("first claim");
    client
        .delete(&format!("/v2/queues/work/claims/{claim}"))
        .await
        .expect(204);
    server.advance(10);
    client
        .post("/v2/queues/work/claims", &json!({}))
        .await
        .expect(204);
    let moved = client.get(&format!("/v2/queues/dlq/messages/{id}")).await;
    assert_eq!(moved.expect(200).body["body"], json!({"job": 1}));
    assert_eq!(rows_in(&server.dir().path().join("only.db"), "dlq"), 1);

    // A dead-letter queue must live where its queue does.
    client.post_n("elsewhere", 1).await;
    client
        .delete("/v2/pools/only")
        .await
        .expect_error(403, "Unable to delete");
    put_pool(&client, &server, "second", json!({})).await;
    client
        .patch("/v2/pools/only", &json!({"weight": 0}))
        .await
        .expect(200);
    client.create_queue("other", &json!({})).await;
    let patch =
        json!([{"op": "add", "path": "/metadata/_dead_letter_queue", "value": "elsewhere"}]);
    client
        .patch_queue("other", &patch)
        .await
        .expect_error(400, "Invalid API request");

    // Push subscriptions over WebSocket hear the pool's queue.
    let mut ws = WsClient::open(&server, Codec::Json).await;
    ws.send("queue_create", json!({"queue_name": "pushed"}))
        .await
        .expect(201);
    assert!(server.dir().path().join("second.db").exists());
    ws.send(
        "subscription_create",
        json!({"queue_name": "pushed", "ttl": 600}),
    )
    .await
    .expect(201);
    // Changing the pool's weight leaves its open store, and the push's feed, as they are.
    client
        .patch("/v2/pools/second", &json!({"weight": 5}))
        .await
        .expect(200);
    ws.send(
        "message_post",
        json!({"queue_name": "pushed", "messages": [{"body": "hello", "ttl": 300}]}),
    )
    .await
    .expect(201);
    let push = ws.recv_push().await;
    assert_eq!(push["body"], "hello", "{push}");
    assert_eq!(rows_in(&server.dir().path().join("second.db"), "pushed"), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn the_event_feed_merges_the_pools_and_pages_through_each() {
    let server = admin_server().await;
    let client = server.client();
    client.post_n("at-home", 2).await;
    put_pool(&client, &server, "p", json!({})).await;
    client.post_n("on-pool", 3).await;
    client.post_n("at-home", 1).await;

    let all = client.get("/v2/events?limit=100").await;
    all.expect(200);
    let events = all.body["events"].as_array().expect("events").clone();
    let of = |queue: &str, pool: &str| {
        events
            .iter()
            .filter(|e| e["queue"] == queue && e["pool"] == pool)
            .count()
    };
    assert!(of("at-home", "default") >= 2, "{events:?}");
    assert!(
        of("on-pool", "p") >= 2,
        "the pool's QueueCreated and MessagesPosted"
    );
    assert_eq!(of("at-home", "p"), 0);
    assert_eq!(
        of("on-pool", "default"),
        1,
        "only its placement is recorded at home"
    );
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["at"].as_str().unwrap_or(""))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "merged by time: {times:?}"
    );

    // Pages of 2, each resuming every store where it stopped: the same events, once each.
    let mut paged = Vec::new();
    let mut markers = Vec::new();
    let mut path = "/v2/events?limit=2".to_owned();
    for _ in 0..20 {
        let page = client.get(&path).await;
        let items = page.expect(200).body["events"]
            .as_array()
            .expect("events")
            .clone();
        if items.is_empty() {
            break;
        }
        assert!(items.len() <= 2);
        paged.extend(items);
        path = page.next_link().expect("a next link");
        markers.push(path.clone());
    }
    assert!(
        markers.iter().any(|m| m.contains("p%3A")),
        "a marker per store once both were read: {markers:?}"
    );
    let key = |e: &Value| format!("{}@{}", e["pool"], e["seq"]);
    let mut want: Vec<String> = events.iter().map(key).collect();
    let mut got: Vec<String> = paged.iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    client.get("/v2/events?marker=p:x").await.expect(400);

    let mut ws = WsClient::open(&server, Codec::Json).await;
    let other = Client::new(&server.base, &ws.client_id, &ws.project);
    other.post_n("on-pool", 1).await;
    let listed = ws.send("event_list", json!({"limit": 100})).await;
    listed.expect(200);
    assert!(
        listed.body["marker"]
            .as_str()
            .is_some_and(|m| m.contains("p:")),
        "{listed:?}"
    );
    assert!(listed.body["events"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["pool"] == "p")));
    client
        .put(
            "/v2/pools/default",
            &json!({"uri": pool_uri(&server, "d"), "weight": 1}),
        )
        .await
        .expect_error(400, "Invalid API request");
    server.shutdown().await;
}

#[tokio::test]
async fn the_event_tail_follows_every_pool() {
    let server = admin_server().await;
    let client = server.client();
    client.post_n("at-home", 1).await;
    put_pool(&client, &server, "p", json!({})).await;
    client.post_n("on-pool", 1).await;
    let mut ws = WsClient::open(&server, Codec::Json).await;
    let ours = Client::new(&server.base, &client.client_id, &ws.project);
    ours.post_n("early", 1).await;
    let doc = crate::common::ws::envelope("event_subscribe", ws.headers(), json!({}));
    ws.send_doc(&doc).await;
    let mut frames = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut posted_live = false;
    while std::time::Instant::now() < deadline {
        match ws.next_frame(std::time::Duration::from_millis(100)).await {
            Some(crate::common::ws::Frame::Doc(_, doc)) if doc.get("headers").is_some() => {
                assert_eq!(doc["headers"]["status"], 200, "{doc}");
            }
            Some(crate::common::ws::Frame::Doc(_, doc)) => frames.push(doc),
            Some(other) => panic!("the tail ended: {other:?}"),
            None if !posted_live => {
                // Caught up: now a live event on the pool.
                ours.post_n("early", 1).await;
                posted_live = true;
            }
            None => {
                let live = frames
                    .iter()
                    .filter(|f| f["type"] == "MessagesPosted" && f["queue"] == "early")
                    .count();
                if live == 2 {
                    break;
                }
            }
        }
    }
    let posted: Vec<_> = frames
        .iter()
        .filter(|f| f["type"] == "MessagesPosted")
        .map(|f| {
            (
                f["queue"].as_str().unwrap_or(""),
                f["pool"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(posted, [("early", "p"), ("early", "p")], "{frames:?}");
    assert!(
        frames
            .iter()
            .any(|f| f["type"] == "QueuePlaced" && f["pool"] == "default"),
        "the placement is the node's own store's event: {frames:?}"
    );
    server.shutdown().await;
}
