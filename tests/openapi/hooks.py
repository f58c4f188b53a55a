"""Schemathesis hooks for the OpenAPI check.

- Long polls are kept short: a generated `wait=20` on an empty queue would hold a worker
  for twenty seconds.
- Zaqar's JSON-patch media type is JSON on the wire; the home document's
  `application/json-home` is read as JSON, so its schema is checked too.
- Real ids: at start a queue `seeded` gets messages, a claim and a subscription (through the
  API, with the same headers as the run), and half of the generated requests that name a
  message, claim or subscription name one of those instead, so that those operations reach
  their real work rather than a 404.
"""

import json
import os
import random
import urllib.request

import schemathesis
from hypothesis.internal import lambda_sources

# Python 3.11's parser can fail with "AST constructor recursion depth mismatch" (a
# SystemError) when Hypothesis parses a large module only to describe one of schemathesis's
# lambdas; the description is cosmetic, so such a failure falls back to Hypothesis's own
# "unknown" description instead of failing the operation.
_describe = lambda_sources._lambda_description


def _describe_or_not(f, *args, **kwargs):
    try:
        return _describe(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _describe_or_not

URL = os.environ["CAIRN_URL"]
HEADERS = {
    "Client-ID": os.environ["CAIRN_CLIENT_ID"],
    "X-Project-Id": os.environ["CAIRN_PROJECT"],
    "Content-Type": "application/json",
}
SEEDED = "seeded"


def _call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method, headers=HEADERS)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return response.headers, (json.loads(text) if text else None)


def _seed(prefix):
    base = f"{prefix}/{SEEDED}"
    _, posted = _call("POST", f"{base}/messages",
                      {"messages": [{"body": {"n": n}, "ttl": 1209600} for n in range(40)]})
    messages = [href.rsplit("/", 1)[1] for href in posted["resources"]]
    claims = []
    if prefix == "/v2/queues":
        headers, _ = _call("POST", f"{base}/claims?limit=5", {"ttl": 43200, "grace": 60})
        claims = [headers["Location"].rsplit("/", 1)[1]]
    _, sub = _call("POST", f"{base}/subscriptions",
                   {"subscriber": "mailto:ops@example.com", "ttl": 86400})
    return {"message_id": messages, "claim_id": claims, "subscription_id": [sub["subscription_id"]]}


SEEDS = {prefix: _seed(prefix) for prefix in ("/v2/queues", "/v2/topics")}
_rng = random.Random(1)


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    operation = ctx.operation
    # Deletes keep their generated ids, so that the seeded things live through the run.
    if not path_parameters or operation.method.upper() == "DELETE" or _rng.random() < 0.5:
        return path_parameters
    seeds = SEEDS["/v2/topics" if operation.path.startswith("/v2/topics") else "/v2/queues"]
    for name, pool in seeds.items():
        if name in path_parameters and pool:
            path_parameters[name] = _rng.choice(pool)
            path_parameters["queue_name"] = SEEDED
    return path_parameters


@schemathesis.hook
def map_query(ctx, query):
    if query and isinstance(query.get("wait"), int) and query["wait"] > 1:
        query["wait"] = 1
    return query


@schemathesis.serializer("application/openstack-messaging-v2.0-json-patch")
def json_patch(ctx, value):
    return json.dumps(value).encode()


@schemathesis.deserializer("application/json-home")
def json_home(ctx, response):
    return json.loads(response.content)
