//! The OpenAPI 3.1 document of the REST API, served at `/v2/openapi.json`: every route of
//! [`super::router`] with its parameters, bodies, answers and errors. Queues and topics
//! share one description (topics without claims and share); the admin routes appear only
//! on a node in admin mode. The `openapi` integration test asks the running router for each
//! documented route's methods, so the two cannot drift apart.

use serde_json::{json, Map, Value};

use crate::model::Limits;

/// The whole document, for a node with or without the admin API.
pub fn document(admin: bool, limits: &Limits) -> Value {
    let mut paths = Map::new();
    meta_paths(&mut paths, limits);
    queue_family(&mut paths, Family::Queues, limits);
    queue_family(&mut paths, Family::Topics, limits);
    if admin {
        admin_paths(&mut paths);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Cairn",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Multi-tenant messaging and notifications, wire-compatible with OpenStack Zaqar v2.",
            "description": "The REST API of Cairn: Zaqar's v2 API (queues, messages, claims, \
                subscriptions, topics, pre-signed URLs, pools and flavors) and Cairn's own \
                additions (the event feed, message histories, long polling). Every request \
                under /v2 sends a Client-ID (a UUID) and, without Keystone, the project in \
                X-Project-Id; with Keystone, X-Auth-Token. The WebSocket API is at /v2/ws.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": tags(admin),
        "paths": paths,
        "components": {
            "parameters": parameters(),
            "responses": {
                "Error": error_response("The request was refused; `title` and `description` say why."),
            },
            "schemas": schemas(limits),
        },
    })
}

/// Queues and topics: the same routes in two namespaces.
#[derive(Clone, Copy, PartialEq)]
enum Family {
    Queues,
    Topics,
}

impl Family {
    fn prefix(self) -> &'static str {
        match self {
            Family::Queues => "/v2/queues",
            Family::Topics => "/v2/topics",
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Family::Queues => "Queues",
            Family::Topics => "Topics",
        }
    }
    fn id(self, name: &str) -> String {
        match self {
            Family::Queues => name.to_owned(),
            Family::Topics => format!("topic_{name}"),
        }
    }
}

fn tags(admin: bool) -> Value {
    let mut tags = vec![
        json!({"name": "Discovery", "description": "Versions, the home document, ping, health and metrics."}),
        json!({"name": "Queues", "description": "Queues and their metadata, stats, purge and pre-signed URLs."}),
        json!({"name": "Messages", "description": "Posting, listing, reading and deleting messages of a queue."}),
        json!({"name": "Claims", "description": "Claiming messages for processing, renewing and releasing claims."}),
        json!({"name": "Subscriptions", "description": "Notifications of a queue's or topic's messages to webhooks and mail."}),
        json!({"name": "Topics", "description": "Topics: queues in a namespace of their own, for fan-out through subscriptions; no claims."}),
        json!({"name": "Audit", "description": "Cairn's additions: the project's event feed and each message's history, read from the log."}),
    ];
    if admin {
        tags.push(json!({"name": "Pools and flavors", "description": "The admin API: stores that hold queues, and groups of them."}));
    }
    Value::Array(tags)
}

/// A `$ref` to a component.
fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}
fn param(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

/// A JSON answer with a schema.
fn answer(description: &str, body: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": body}}})
}

/// An answer without a body.
fn empty(description: &str) -> Value {
    json!({"description": description})
}

fn error_response(description: &str) -> Value {
    answer(description, schema("Error"))
}

/// One operation: its tag, id, summary, parameters, body and answers, with the errors every
/// request under /v2 can meet (bad headers 400, no or bad token 401, policy 403, Accept 406,
/// store unreachable 503) added to the ones given.
fn operation(
    tag: &str,
    id: &str,
    summary: &str,
    params: Vec<Value>,
    body: Option<Value>,
    answers: Vec<(&str, Value)>,
) -> Value {
    let mut responses = Map::new();
    for (status, value) in answers {
        responses.insert(status.to_owned(), value);
    }
    for status in ["400", "401", "403", "406", "503"] {
        responses
            .entry(status)
            .or_insert_with(|| json!({"$ref": "#/components/responses/Error"}));
    }
    let mut parameters = vec![param("ClientId"), param("ProjectId"), param("AuthToken")];
    parameters.extend(params);
    let mut op = json!({
        "tags": [tag],
        "operationId": id,
        "summary": summary,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

/// A JSON request body.
fn body(required: bool, schema: Value) -> Option<Value> {
    Some(json!({"required": required, "content": {"application/json": {"schema": schema}}}))
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description,
           "schema": {"type": "string"}})
}

fn limit(max: i64, default: i64) -> Value {
    query(
        "limit",
        json!({"type": "integer", "minimum": 1, "maximum": max, "default": default}),
        "How many items a page holds at most.",
    )
}

fn marker(description: &str) -> Value {
    query("marker", json!({"type": "string"}), description)
}

fn flag(name: &str, description: &str) -> Value {
    query(
        name,
        json!({"type": "boolean", "default": false}),
        description,
    )
}

fn wait() -> Value {
    query(
        "wait",
        json!({"type": "integer", "minimum": 0, "maximum": 20, "default": 0}),
        "Long polling: when nothing is available, wait up to this many seconds for it \
         (a Cairn addition, like SQS's WaitTimeSeconds).",
    )
}

fn insert(paths: &mut Map<String, Value>, path: &str, method: &str, op: Value) {
    let item = paths.entry(path).or_insert_with(|| json!({}));
    item[method] = op;
}

fn meta_paths(paths: &mut Map<String, Value>, limits: &Limits) {
    let mut versions = json!({
        "tags": ["Discovery"], "operationId": "versions", "summary": "The API versions.",
        "description": "Needs no headers. Answers 300, as Zaqar does.",
        "responses": {"300": answer("The one version, v2.", schema("Versions"))},
    });
    versions["responses"]["300"]["content"] =
        json!({"application/json": {"schema": schema("Versions")}});
    insert(paths, "/", "get", versions);
    let home = operation(
        "Discovery",
        "home",
        "The JSON-home document of the API.",
        vec![],
        None,
        vec![(
            "200",
            json!({"description": "Zaqar's relations.",
                   "content": {"application/json-home": {"schema": schema("Home")}}}),
        )],
    );
    insert(paths, "/v2", "get", {
        let mut h = home.clone();
        h["operationId"] = json!("home_no_slash");
        h
    });
    insert(paths, "/v2/", "get", home);
    insert(
        paths,
        "/v2/ping",
        "get",
        operation(
            "Discovery",
            "ping",
            "Whether the node's store answers.",
            vec![],
            None,
            vec![
                ("204", empty("The store answers.")),
                ("503", empty("The store does not answer.")),
            ],
        ),
    );
    insert(
        paths,
        "/v2/ping",
        "head",
        operation(
            "Discovery",
            "ping_head",
            "Whether the node is up.",
            vec![],
            None,
            vec![("204", empty("The node is up."))],
        ),
    );
    insert(
        paths,
        "/v2/health",
        "get",
        operation(
            "Discovery",
            "health",
            "The node's health (admin role).",
            vec![],
            None,
            vec![("200", answer("Reachability and volumes.", schema("Health")))],
        ),
    );
    insert(
        paths,
        "/metrics",
        "get",
        json!({
            "tags": ["Discovery"], "operationId": "metrics",
            "summary": "Prometheus metrics (no headers needed).",
            "responses": {
                "200": {"description": "The Prometheus text format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}}},
                "503": error_response("The store does not answer."),
            },
        }),
    );
    insert(
        paths,
        "/v2/events",
        "get",
        operation(
            "Audit",
            "events",
            "The project's event feed, oldest first.",
            vec![
                marker("Resume after this position: `N`, or `POOL:N,…` on a node with pools."),
                limit(
                    limits.max_events_per_page,
                    limits.max_events_per_page.min(20),
                ),
                query(
                    "queue",
                    json!({"type": "string"}),
                    "Only this queue's events.",
                ),
                query(
                    "type",
                    json!({"type": "string"}),
                    "Only these event types (comma-separated).",
                ),
                query(
                    "since",
                    json!({"type": "string"}),
                    "From this RFC 3339 time on.",
                ),
                query(
                    "until",
                    json!({"type": "string"}),
                    "Before this RFC 3339 time.",
                ),
            ],
            None,
            vec![("200", answer("A page of events.", schema("EventPage")))],
        ),
    );
}

/// The routes of queues (or topics) under their prefix.
fn queue_family(paths: &mut Map<String, Value>, family: Family, limits: &Limits) {
    let p = family.prefix();
    let tag = family.tag();
    let q = format!("{p}/{{queue_name}}");
    let name = param("QueueName");
    let on = |what: &str| family.id(what);
    let list_key = match family {
        Family::Queues => "QueueList",
        Family::Topics => "TopicList",
    };
    insert(
        paths,
        p,
        "get",
        operation(
            tag,
            &on("queue_list"),
            "List queues.",
            vec![
                marker("Start after this queue name."),
                limit(
                    limits.max_queues_per_page,
                    limits.max_queues_per_page.min(10),
                ),
                flag("detailed", "Include each queue's metadata."),
                query(
                    "name",
                    json!({"type": "string"}),
                    "Only queues whose name holds this text.",
                ),
                flag("with_count", "Include the number of queues."),
            ],
            None,
            vec![("200", answer("A page of queues.", schema(list_key)))],
        ),
    );
    insert(
        paths,
        &q,
        "put",
        operation(
            tag,
            &on("queue_create"),
            "Create a queue.",
            vec![name.clone()],
            body(false, schema("QueueMetadata")),
            vec![
                ("201", empty("Created.")),
                (
                    "204",
                    empty("It already existed; its metadata is unchanged."),
                ),
            ],
        ),
    );
    insert(
        paths,
        &q,
        "get",
        operation(
            tag,
            &on("queue_get"),
            "A queue's metadata.",
            vec![name.clone()],
            None,
            vec![(
                "200",
                answer(
                    "The metadata, with the defaults of reserved keys.",
                    schema("QueueMetadata"),
                ),
            )],
        ),
    );
    insert(
        paths,
        &q,
        "head",
        operation(
            tag,
            &on("queue_exists"),
            "Whether a queue exists.",
            vec![name.clone()],
            None,
            vec![
                ("204", empty("It exists.")),
                ("404", empty("It does not exist.")),
            ],
        ),
    );
    insert(paths, &q, "patch", {
        let mut op = operation(
            tag,
            &on("queue_update"),
            "Change a queue's metadata (JSON patch).",
            vec![name.clone()],
            None,
            vec![
                ("200", answer("The new metadata.", schema("QueueMetadata"))),
                ("404", error_response("No such queue.")),
                (
                    "409",
                    error_response("The key to replace or remove does not exist."),
                ),
                (
                    "415",
                    error_response("The content type is not the JSON-patch one."),
                ),
            ],
        );
        op["requestBody"] = json!({"required": true, "content": {
            "application/openstack-messaging-v2.0-json-patch": {"schema": schema("MetadataPatch")}}});
        op
    });
    insert(
        paths,
        &q,
        "delete",
        operation(
            tag,
            &on("queue_delete"),
            "Delete a queue and all it holds.",
            vec![name.clone()],
            None,
            vec![("204", empty("Deleted (or never there)."))],
        ),
    );
    insert(
        paths,
        &format!("{q}/stats"),
        "get",
        operation(
            tag,
            &on("queue_stats"),
            "A queue's message counts.",
            vec![name.clone()],
            None,
            vec![(
                "200",
                answer(
                    "Counts, and the oldest and newest message.",
                    schema("Stats"),
                ),
            )],
        ),
    );
    insert(
        paths,
        &format!("{q}/purge"),
        "post",
        operation(
            tag,
            &on("queue_purge"),
            "Delete a queue's messages and/or subscriptions.",
            vec![name.clone()],
            body(false, schema("Purge")),
            vec![("204", empty("Purged."))],
        ),
    );

    let messages = format!("{q}/messages");
    let mtag = match family {
        Family::Queues => "Messages",
        Family::Topics => "Topics",
    };
    insert(
        paths,
        &messages,
        "post",
        operation(
            mtag,
            &on("message_post"),
            "Post messages.",
            vec![name.clone()],
            body(true, schema("NewMessages")),
            vec![(
                "201",
                answer("Where the new messages are.", schema("Posted")),
            )],
        ),
    );
    insert(
        paths,
        &messages,
        "get",
        operation(
            mtag,
            &on("message_list"),
            "List messages, or get some by id.",
            vec![
                name.clone(),
                query(
                    "ids",
                    json!({"type": "string"}),
                    "Comma-separated message ids: get these (other parameters are then ignored).",
                ),
                marker("Resume after this position (from the `next` link)."),
                limit(
                    limits.max_messages_per_page,
                    limits.max_messages_per_page.min(10),
                ),
                flag("echo", "Include the messages this Client-ID posted."),
                flag("include_claimed", "Include claimed messages."),
                flag("include_delayed", "Include messages still delayed."),
                wait(),
            ],
            None,
            vec![
                ("200", answer("A page of messages.", schema("MessagePage"))),
                ("404", error_response("None of the ids was found.")),
            ],
        ),
    );
    insert(
        paths,
        &messages,
        "delete",
        operation(
            mtag,
            &on("message_delete_many"),
            "Delete messages by id, or pop the oldest.",
            vec![
                name.clone(),
                query(
                    "ids",
                    json!({"type": "string"}),
                    "Comma-separated message ids to delete.",
                ),
                query(
                    "claim_ids",
                    json!({"type": "string"}),
                    "The claims holding them (when the server requires them).",
                ),
                query(
                    "pop",
                    json!({"type": "integer", "minimum": 1, "maximum": limits.max_messages_per_claim_or_pop}),
                    "Delete and return this many of the oldest free messages.",
                ),
            ],
            None,
            vec![
                ("200", answer("The popped messages.", schema("Popped"))),
                ("204", empty("Deleted.")),
            ],
        ),
    );
    let message = format!("{messages}/{{message_id}}");
    let id = path_param("message_id", "A message id.");
    insert(
        paths,
        &message,
        "get",
        operation(
            mtag,
            &on("message_get"),
            "Get one message.",
            vec![name.clone(), id.clone()],
            None,
            vec![
                ("200", answer("The message.", schema("Message"))),
                ("404", error_response("No such message.")),
            ],
        ),
    );
    insert(
        paths,
        &message,
        "delete",
        operation(
            mtag,
            &on("message_delete"),
            "Delete one message.",
            vec![
                name.clone(),
                id.clone(),
                query(
                    "claim_id",
                    json!({"type": "string"}),
                    "The claim holding it, if it is claimed.",
                ),
            ],
            None,
            vec![("204", empty("Deleted (or never there)."))],
        ),
    );
    insert(
        paths,
        &format!("{message}/history"),
        "get",
        operation(
            "Audit",
            &on("message_history"),
            "Everything the log holds about one message.",
            vec![name.clone(), id],
            None,
            vec![
                (
                    "200",
                    answer("The message's events, oldest first.", schema("History")),
                ),
                ("404", error_response("The log holds nothing about it.")),
            ],
        ),
    );

    let subs = format!("{q}/subscriptions");
    let stag = match family {
        Family::Queues => "Subscriptions",
        Family::Topics => "Topics",
    };
    insert(
        paths,
        &subs,
        "post",
        operation(
            stag,
            &on("subscription_create"),
            "Subscribe to a queue's messages.",
            vec![name.clone()],
            body(false, schema("NewSubscription")),
            vec![
                (
                    "201",
                    answer("The subscription's id.", schema("SubscriptionCreated")),
                ),
                (
                    "409",
                    error_response("That subscriber is already subscribed and confirmed."),
                ),
            ],
        ),
    );
    insert(
        paths,
        &subs,
        "get",
        operation(
            stag,
            &on("subscription_list"),
            "List subscriptions.",
            vec![
                name.clone(),
                marker("Start after this subscription id."),
                limit(
                    limits.max_subscriptions_per_page,
                    limits.max_subscriptions_per_page.min(10),
                ),
            ],
            None,
            vec![(
                "200",
                answer("A page of subscriptions.", schema("SubscriptionPage")),
            )],
        ),
    );
    let sub = format!("{subs}/{{subscription_id}}");
    let sid = path_param("subscription_id", "A subscription id.");
    insert(
        paths,
        &sub,
        "get",
        operation(
            stag,
            &on("subscription_get"),
            "Get one subscription.",
            vec![name.clone(), sid.clone()],
            None,
            vec![
                ("200", answer("The subscription.", schema("Subscription"))),
                ("404", error_response("No such subscription.")),
            ],
        ),
    );
    insert(
        paths,
        &sub,
        "patch",
        operation(
            stag,
            &on("subscription_update"),
            "Change a subscription (a null field stays as it is).",
            vec![name.clone(), sid.clone()],
            body(false, schema("SubscriptionPatch")),
            vec![
                ("204", empty("Changed.")),
                ("404", error_response("No such subscription.")),
                (
                    "409",
                    error_response("Another subscription has that subscriber."),
                ),
            ],
        ),
    );
    insert(
        paths,
        &sub,
        "delete",
        operation(
            stag,
            &on("subscription_delete"),
            "Delete a subscription.",
            vec![name.clone(), sid.clone()],
            None,
            vec![("204", empty("Deleted (or never there)."))],
        ),
    );
    insert(
        paths,
        &format!("{sub}/confirm"),
        "put",
        operation(
            stag,
            &on("subscription_confirm"),
            "Confirm (or unconfirm) a subscription.",
            vec![name.clone(), sid],
            body(true, schema("Confirm")),
            vec![
                ("204", empty("Done.")),
                ("404", error_response("No such subscription.")),
            ],
        ),
    );

    if family == Family::Topics {
        return;
    }
    insert(
        paths,
        &format!("{q}/share"),
        "post",
        operation(
            tag,
            "queue_share",
            "Make a pre-signed URL for a queue.",
            vec![name.clone()],
            body(true, schema("Share")),
            vec![("200", answer("The signed grant.", schema("Signed")))],
        ),
    );
    let claims = format!("{q}/claims");
    insert(
        paths,
        &claims,
        "post",
        operation(
            "Claims",
            "claim_create",
            "Claim messages.",
            vec![
                name.clone(),
                limit(
                    limits.max_messages_per_claim_or_pop,
                    limits.max_messages_per_claim_or_pop.min(10),
                ),
                wait(),
            ],
            body(false, schema("NewClaim")),
            vec![
                ("201", answer("The claimed messages.", schema("Claimed"))),
                ("204", empty("Nothing to claim.")),
            ],
        ),
    );
    let claim = format!("{claims}/{{claim_id}}");
    let cid = path_param("claim_id", "A claim id.");
    insert(
        paths,
        &claim,
        "get",
        operation(
            "Claims",
            "claim_get",
            "Get a claim.",
            vec![name.clone(), cid.clone()],
            None,
            vec![
                (
                    "200",
                    answer("The claim and its messages.", schema("Claim")),
                ),
                ("404", error_response("No such live claim.")),
            ],
        ),
    );
    insert(
        paths,
        &claim,
        "patch",
        operation(
            "Claims",
            "claim_update",
            "Renew a claim.",
            vec![name.clone(), cid.clone()],
            body(true, schema("ClaimRenewal")),
            vec![
                ("204", empty("Renewed.")),
                ("404", error_response("No such live claim.")),
            ],
        ),
    );
    insert(
        paths,
        &claim,
        "delete",
        operation(
            "Claims",
            "claim_delete",
            "Release a claim.",
            vec![name, cid],
            None,
            vec![("204", empty("Released (or never there)."))],
        ),
    );
}

fn admin_paths(paths: &mut Map<String, Value>) {
    let tag = "Pools and flavors";
    let pool = path_param("pool_name", "A pool's name.");
    let flavor = path_param("flavor_name", "A flavor's name.");
    let detailed = flag("detailed", "Include the details.");
    insert(
        paths,
        "/v2/pools",
        "get",
        operation(
            tag,
            "pool_list",
            "List pools.",
            vec![
                marker("Start after this pool name."),
                limit(20, 10),
                detailed.clone(),
            ],
            None,
            vec![("200", answer("A page of pools.", schema("PoolPage")))],
        ),
    );
    let at = "/v2/pools/{pool_name}";
    insert(
        paths,
        at,
        "get",
        operation(
            tag,
            "pool_get",
            "Get a pool.",
            vec![pool.clone(), detailed.clone()],
            None,
            vec![
                ("200", answer("The pool.", schema("Pool"))),
                ("404", error_response("No such pool.")),
            ],
        ),
    );
    insert(
        paths,
        at,
        "put",
        operation(
            tag,
            "pool_create",
            "Register a pool (a Cairn store URL).",
            vec![pool.clone()],
            body(true, schema("NewPool")),
            vec![
                ("201", empty("Registered.")),
                (
                    "409",
                    error_response("That store is the node's own or another pool's."),
                ),
            ],
        ),
    );
    insert(
        paths,
        at,
        "patch",
        operation(
            tag,
            "pool_update",
            "Change a pool.",
            vec![pool.clone()],
            body(true, schema("PoolPatch")),
            vec![
                ("200", answer("The pool.", schema("Pool"))),
                ("404", error_response("No such pool.")),
                (
                    "409",
                    error_response("That store is the node's own or another pool's."),
                ),
            ],
        ),
    );
    insert(
        paths,
        at,
        "delete",
        operation(
            tag,
            "pool_delete",
            "Delete a pool that holds no queues.",
            vec![pool],
            None,
            vec![("204", empty("Deleted (or never there)."))],
        ),
    );
    insert(
        paths,
        "/v2/flavors",
        "get",
        operation(
            tag,
            "flavor_list",
            "List the project's flavors.",
            vec![
                marker("Start after this flavor name."),
                limit(20, 10),
                detailed,
            ],
            None,
            vec![("200", answer("A page of flavors.", schema("FlavorPage")))],
        ),
    );
    let at = "/v2/flavors/{flavor_name}";
    insert(
        paths,
        at,
        "get",
        operation(
            tag,
            "flavor_get",
            "Get a flavor.",
            vec![flavor.clone()],
            None,
            vec![
                ("200", answer("The flavor.", schema("Flavor"))),
                ("404", error_response("No such flavor.")),
            ],
        ),
    );
    insert(
        paths,
        at,
        "put",
        operation(
            tag,
            "flavor_create",
            "Create a flavor over some pools.",
            vec![flavor.clone()],
            body(true, schema("NewFlavor")),
            vec![("201", empty("Created."))],
        ),
    );
    insert(
        paths,
        at,
        "patch",
        operation(
            tag,
            "flavor_update",
            "Change a flavor's pools.",
            vec![flavor.clone()],
            body(true, schema("FlavorPatch")),
            vec![
                ("200", answer("The flavor.", schema("Flavor"))),
                ("404", error_response("No such flavor.")),
            ],
        ),
    );
    insert(
        paths,
        at,
        "delete",
        operation(
            tag,
            "flavor_delete",
            "Delete a flavor.",
            vec![flavor],
            None,
            vec![("204", empty("Deleted (or never there)."))],
        ),
    );
}

fn parameters() -> Value {
    json!({
        "ClientId": {"name": "Client-ID", "in": "header", "required": true,
            "description": "The client's id, a UUID; `echo=false` listings hide the messages it posted.",
            "schema": {"type": "string", "format": "uuid"}},
        "ProjectId": {"name": "X-Project-Id", "in": "header", "required": false,
            "description": "The project (tenant). Required without Keystone; with Keystone it must be the token's.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 256}},
        "AuthToken": {"name": "X-Auth-Token", "in": "header", "required": false,
            "description": "A Keystone token (with `--auth keystone`).",
            "schema": {"type": "string"}},
        "QueueName": {"name": "queue_name", "in": "path", "required": true,
            "description": "Up to 64 ASCII letters, digits, `_`, `-` and `.`.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}},
    })
}

/// The subscribers Cairn delivers to: webhooks (plain or through a Keystone trust) and mail.
const SUBSCRIBER: &str = "^((trust\\+)?https?://[^\\s/]+(/\\S*)?|mailto:[^@\\s]+@[^@\\s]+)$";

fn schemas(limits: &Limits) -> Value {
    let int = |min: i64, max: i64| json!({"type": "integer", "minimum": min, "maximum": max});
    let any = json!({});
    let string = json!({"type": "string"});
    let nullable_string = json!({"type": ["string", "null"]});
    let links = json!({"type": "array", "items": {"type": "object", "required": ["rel", "href"],
        "properties": {"rel": string, "href": string}}});
    let list = [
        (
            "Error",
            json!({"type": "object", "required": ["title"],
            "properties": {"title": string, "description": string}}),
        ),
        (
            "Versions",
            json!({"type": "object", "required": ["versions"],
            "properties": {"versions": {"type": "array", "items": {"type": "object"}}}}),
        ),
        (
            "Home",
            json!({"type": "object", "required": ["resources"],
            "properties": {"resources": {"type": "object"}}}),
        ),
        (
            "Health",
            json!({"type": "object", "required": ["storage_reachable", "message_volume"],
            "properties": {"storage_reachable": {"type": "boolean"}, "message_volume": schema("Volume"),
                "catalog_reachable": {"type": "boolean"}, "operation_status": {"type": "object"}}}),
        ),
        (
            "Volume",
            json!({"type": "object", "required": ["free", "claimed", "total"], "properties": {
            "free": {"type": "integer"}, "claimed": {"type": "integer"}, "total": {"type": "integer"}}}),
        ),
        (
            "QueueMetadata",
            json!({"type": "object",
            "description": "Free-form metadata; the keys starting with `_` are Zaqar's reserved ones.",
            "properties": {
                "_default_message_ttl": int(60, limits.max_message_ttl),
                "_max_messages_post_size": int(1, limits.max_messages_post_size as i64),
                "_default_message_delay": int(0, limits.max_message_delay),
                "_dead_letter_queue": any,
                "_dead_letter_queue_messages_ttl": {"type": ["integer", "null"], "minimum": 60, "maximum": limits.max_message_ttl},
                "_max_claim_count": {"type": ["integer", "null"]},
                "_enable_encrypt_messages": {"type": "boolean"},
                "_flavor": {"type": "string"},
            }}),
        ),
        (
            "MetadataPatch",
            json!({"type": "array", "items": {"type": "object", "required": ["op", "path"], "properties": {
            "op": {"enum": ["add", "replace", "remove"]},
            "path": {"type": "string", "pattern": "^/metadata/[^/]+$", "description": "`/metadata/KEY`"},
            "value": any}}}),
        ),
        (
            "QueueList",
            json!({"type": "object", "required": ["queues", "links"], "properties": {
            "queues": {"type": "array", "items": schema("QueueListed")}, "links": links,
            "count": {"type": "integer"}}}),
        ),
        (
            "TopicList",
            json!({"type": "object", "required": ["topics", "links"], "properties": {
            "topics": {"type": "array", "items": schema("QueueListed")}, "links": links,
            "count": {"type": "integer"}}}),
        ),
        (
            "QueueListed",
            json!({"type": "object", "required": ["name", "href"], "properties": {
            "name": string, "href": string, "metadata": {"type": "object"}}}),
        ),
        (
            "Stats",
            json!({"type": "object", "required": ["messages"], "properties": {"messages": {
            "type": "object", "required": ["free", "claimed", "total"], "properties": {
                "free": {"type": "integer"}, "claimed": {"type": "integer"}, "total": {"type": "integer"},
                "oldest": schema("StatsEnd"), "newest": schema("StatsEnd")}}}}),
        ),
        (
            "StatsEnd",
            json!({"type": "object", "required": ["age", "created", "href"], "properties": {
            "age": {"type": "integer"}, "created": string, "href": string}}),
        ),
        (
            "Purge",
            json!({"type": "object", "required": ["resource_types"], "properties": {
            "resource_types": {"type": "array", "items": {"enum": ["messages", "subscriptions"]}}}}),
        ),
        (
            "Share",
            json!({"type": "object", "additionalProperties": false, "properties": {
            "paths": {"type": "array", "items": {"enum": ["messages", "subscriptions", "claims"]}},
            "methods": {"type": "array", "items": string},
            "expires": {"type": "string", "description": "An ISO 8601 time in the future; default now + 24 h."}}}),
        ),
        (
            "Signed",
            json!({"type": "object", "required": ["paths", "methods", "project", "expires", "signature"],
            "properties": {"paths": {"type": "array", "items": string}, "methods": {"type": "array", "items": string},
                "project": string, "expires": string, "signature": string}}),
        ),
        (
            "NewMessages",
            json!({"type": "object", "required": ["messages"], "properties": {"messages": {
            "type": "array", "minItems": 1, "items": {"type": "object", "required": ["body"], "properties": {
                "body": any,
                "ttl": int(60, limits.max_message_ttl),
                "delay": int(0, limits.max_message_delay)}}}}}),
        ),
        (
            "Posted",
            json!({"type": "object", "required": ["resources"], "properties": {
            "resources": {"type": "array", "items": string}}}),
        ),
        (
            "Message",
            json!({"type": "object", "required": ["id", "href", "ttl", "age", "body"], "properties": {
            "id": string, "href": string, "ttl": {"type": "integer"}, "age": {"type": "integer"},
            "body": any, "checksum": string}}),
        ),
        (
            "MessagePage",
            json!({"type": "object", "required": ["messages"], "properties": {
            "messages": {"type": "array", "items": schema("Message")}, "links": links}}),
        ),
        (
            "Popped",
            json!({"type": "object", "required": ["messages"], "properties": {"messages": {"type": "array",
            "items": {"type": "object", "required": ["id", "age", "ttl", "body"], "properties": {
                "id": string, "age": {"type": "integer"}, "ttl": {"type": "integer"},
                "claim_count": {"type": "integer"}, "claim_id": {"type": "null"}, "body": any}}}}}),
        ),
        (
            "NewClaim",
            json!({"type": "object", "properties": {
            "ttl": int(60, limits.max_claim_ttl), "grace": int(60, limits.max_claim_grace)}}),
        ),
        (
            "ClaimRenewal",
            json!({"type": "object", "properties": {
            "ttl": int(60, limits.max_claim_ttl), "grace": {"type": "integer"}}}),
        ),
        (
            "Claimed",
            json!({"type": "object", "required": ["messages"], "properties": {
            "messages": {"type": "array", "items": schema("Message")}}}),
        ),
        (
            "Claim",
            json!({"type": "object", "required": ["age", "ttl", "href", "messages"], "properties": {
            "age": {"type": "integer"}, "ttl": {"type": "integer"}, "href": string,
            "messages": {"type": "array", "items": schema("Message")}}}),
        ),
        (
            "NewSubscription",
            json!({"type": "object", "required": ["subscriber"], "properties": {
            "subscriber": {"type": "string", "pattern": SUBSCRIBER,
                "description": "http(s)://…, trust+http(s)://… or mailto:…"},
            "ttl": {"type": "integer", "minimum": 60}, "options": {"type": "object"}}}),
        ),
        (
            "SubscriptionPatch",
            json!({"type": "object", "properties": {
            "subscriber": {"type": ["string", "null"], "pattern": SUBSCRIBER},
            "ttl": {"type": ["integer", "null"], "minimum": 60},
            "options": {"type": ["object", "null"]}}}),
        ),
        (
            "SubscriptionCreated",
            json!({"type": "object", "required": ["subscription_id"], "properties": {
            "subscription_id": string}}),
        ),
        (
            "Subscription",
            json!({"type": "object", "required": ["id", "source", "subscriber", "ttl", "age", "options"],
            "properties": {"id": string, "source": string, "subscriber": string, "ttl": {"type": "integer"},
                "age": {"type": "integer"}, "options": {"type": "object"}, "confirmed": {"type": "boolean"}}}),
        ),
        (
            "SubscriptionPage",
            json!({"type": "object", "required": ["subscriptions", "links"], "properties": {
            "subscriptions": {"type": "array", "items": schema("Subscription")}, "links": links}}),
        ),
        (
            "Confirm",
            json!({"type": "object", "required": ["confirmed"], "properties": {"confirmed": {"type": "boolean"}}}),
        ),
        (
            "Event",
            json!({"type": "object", "required": ["seq", "type", "at", "queue", "event"], "properties": {
            "seq": {"type": "integer"}, "type": string, "at": string, "queue": string,
            "client_id": nullable_string, "request_id": nullable_string,
            "event": {"type": "object"}, "pool": string}}),
        ),
        (
            "EventPage",
            json!({"type": "object", "required": ["events", "links"], "properties": {
            "events": {"type": "array", "items": schema("Event")}, "links": links,
            "log_horizon": {"type": "integer"}}}),
        ),
        (
            "History",
            json!({"type": "object", "required": ["message_id", "complete", "events"], "properties": {
            "message_id": string, "complete": {"type": "boolean"},
            "events": {"type": "array", "items": schema("Event")}, "log_horizon": {"type": "integer"}}}),
        ),
        (
            "Pool",
            json!({"type": "object", "required": ["name", "uri", "weight", "href"], "properties": {
            "name": string, "uri": string, "weight": {"type": "integer"}, "flavor": nullable_string,
            "href": string, "options": {"type": "object"}}}),
        ),
        (
            "PoolPage",
            json!({"type": "object", "required": ["pools", "links"], "properties": {
            "pools": {"type": "array", "items": schema("Pool")}, "links": links}}),
        ),
        (
            "NewPool",
            json!({"type": "object", "required": ["uri", "weight"], "additionalProperties": false, "properties": {
            "uri": {"type": "string", "maxLength": 255, "description": "sqlite://PATH or postgres://…"},
            "weight": int(0, u32::MAX as i64), "flavor": {"type": "string", "maxLength": 255},
            "options": {"type": "object"}}}),
        ),
        (
            "PoolPatch",
            json!({"type": "object", "minProperties": 1, "properties": {
            "uri": {"type": "string", "maxLength": 255}, "weight": int(0, u32::MAX as i64),
            "flavor": {"type": "string", "maxLength": 255}, "options": {"type": "object"}}}),
        ),
        (
            "Flavor",
            json!({"type": "object", "required": ["name", "href"], "properties": {
            "name": string, "href": string, "pool_list": {"type": "array", "items": string},
            "capabilities": {"type": "array", "items": string}}}),
        ),
        (
            "FlavorPage",
            json!({"type": "object", "required": ["flavors", "links"], "properties": {
            "flavors": {"type": "array", "items": schema("Flavor")}, "links": links}}),
        ),
        (
            "NewFlavor",
            json!({"type": "object", "required": ["pool_list"], "additionalProperties": false, "properties": {
            "pool_list": {"type": "array", "minItems": 1, "items": string}, "capabilities": {"type": "object"}}}),
        ),
        (
            "FlavorPatch",
            json!({"type": "object", "required": ["pool_list"], "properties": {
            "pool_list": {"type": "array", "minItems": 1, "items": string}}}),
        ),
    ];
    Value::Object(list.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}
