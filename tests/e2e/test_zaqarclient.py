#!/usr/bin/env python3
"""End-to-end test of a Cairn server driven by the real python-zaqarclient.

Usage:  CAIRN_URL=http://127.0.0.1:8888 python test_zaqarclient.py
        (or use run.sh next to this file, which builds the venv and can start
        the server itself).  Prints one line per check ("PASS name" /
        "FAIL name: why"), ends with "N passed, N failed", exits 1 on failure.

What python-zaqarclient (pinned in requirements.txt) actually sends, read
from its source (zaqarclient/transport/http.py, queues/v2/{core,api,queues,
claim,message,iterator}.py) and checked against upstream Zaqar (redis store):

Every request
  * Headers: Client-ID: <uuid4 hex WITHOUT dashes> (conf['client_uuid'] may
    override; this script uses a dashed one for its second client),
    X-Project-Id: <options.os_project_id> (noauth; if none is given the
    client sends "fake_project_id_for_noauth"), Accept: */*.
  * Content-Type: application/json on EVERY request, also GET/HEAD/DELETE
    with no body, except queue PATCH (see below).  A body of None is sent as
    no body at all (Content-Length: 0 or absent).
  * Booleans in query strings are Python-cased: echo=True,
    include_claimed=True, detailed=True, with_count=True.
  * List params that are not part of the path are repeated, not
    comma-joined: ?ids=a&ids=b (get many, delete many).
  * Only 400/401/403/404/409/500/503 raise.  Any other status (e.g. 405) is
    treated as success and the body is json-decoded if non-empty.

Queues
  * cli.queue(name) sends NOTHING; cli.queue(name, force_create=True) sends
    PUT /v2/queues/{name} with no body -> 201 (new) / 204 (existed).
  * queue.exists(): HEAD /v2/queues/{name}; True unless 404.  (Upstream Zaqar
    has no HEAD handler and answers 405, so there exists() is always True.)
  * queue.metadata(): GET /v2/queues/{name} -> 200, body = flat metadata
    object.  Upstream fills in reserved keys: _max_messages_post_size 262144,
    _default_message_ttl 3600, _default_message_delay 0,
    _dead_letter_queue null, _dead_letter_queue_messages_ttl null,
    _max_claim_count null, _enable_encrypt_messages false.
    The result is cached client-side while non-empty (force_reload=True
    re-GETs).
  * queue.metadata(new_meta=d): GET first, then PATCH /v2/queues/{name} with
    Content-Type: application/openstack-messaging-v2.0-json-patch and body
    [{"op":"replace"|"add","path":"/metadata/K","value":V}, ...,
     {"op":"remove","path":"/metadata/K"}] -- "replace" for keys whose
    current value is non-null, "add" otherwise, and "remove" for EVERY key
    from the GET not in d, including reserved keys that were only defaults
    (so removing an absent reserved key must not 409).  Response must be
    200 with the full new metadata object (the client returns/caches it; a
    204 makes metadata() return None).
  * cli.queues(**p): GET /v2/queues?limit=..&detailed=True&with_count=True
    -> 200 {"queues":[{"name","href"[,"metadata"]}],"links":[...],
    "count":N}.  Returns (iterator, count); count = body["count"] only when
    with_count was passed.  Only queues of the request's project.
  * queue.stats: GET /v2/queues/{name}/stats -> 200 {"messages":{"free",
    "claimed","total"[,"oldest","newest" (each with "href","age",...)]}}.
  * queue.purge(): POST /v2/queues/{name}/purge with NO body (means purge
    messages and subscriptions) -> 204; the queue itself remains.
  * queue.delete(): DELETE /v2/queues/{name} -> 204.

Messages
  * queue.post(dict|list): POST /v2/queues/{name}/messages with
    {"messages":[{"body":..,"ttl"?:..}]} -> 201 {"resources":[
    "/v2/queues/{name}/messages/{id}", ...]} (returned as-is).  A missing
    ttl takes the queue's _default_message_ttl (else the server default).
  * queue.messages(**p): GET /v2/queues/{name}/messages?echo=True&limit=..
    &include_claimed=True -> 200 {"messages":[...],"links":[...]} (empty
    body also tolerated).  Without echo the messages posted by the same
    Client-ID are hidden; claimed ones are hidden unless include_claimed.
  * Every message object returned anywhere is splatted into
    Message(queue, ttl, age, body, href=None, id=None, claim_id=None,
    claim_count=0, checksum=None): ttl, age, body are REQUIRED and ANY OTHER
    KEY (e.g. "created") crashes the client with TypeError.  If "id" is
    absent it is taken from href.  message.claim_id is parsed from href
    (text after the last "="), so claimed messages need
    href ".../messages/{id}?claim_id={cid}" with claim_id LAST.
  * queue.message(id): GET /v2/queues/{name}/messages/{id} -> 200 message
    object (href carries ?claim_id= while claimed); 404 if missing.
  * queue.messages(id1, id2): GET /v2/queues/{name}/messages?ids=id1&ids=id2
    -> 200 {"messages":[...]} (404 when none found).
  * message.delete(): DELETE /v2/queues/{name}/messages/{id}[?claim_id=cid]
    -> 204.  Upstream: wrong/expired claim -> 400, claimed message deleted
    without claim_id -> 403.
  * queue.delete_messages(*ids): DELETE ...messages?ids=a&ids=b -> 204.
  * queue.pop(n): DELETE /v2/queues/{name}/messages?pop=n -> 200
    {"messages":[{"id","ttl","age","body",...}]}; MUST be 200 with
    {"messages": []} when nothing is left (204/empty body crashes the
    client's iterator).

Claims
  * queue.claim(ttl=T, grace=G, limit=L): POST /v2/queues/{name}/claims?
    limit=L with body {"ttl":T,"grace":G} (an argument left out is sent as
    JSON null -- upstream rejects null with 400).  -> 201 {"messages":[...]}
    with each href ".../messages/{id}?claim_id={cid}"; the client takes the
    claim id from the FIRST message's href (split on "=").  Nothing to
    claim -> 204 with no body (a 201 with [] crashes the client).
  * queue.claim(id=cid) then .ttl / .age / iterating: GET
    /v2/queues/{name}/claims/{cid} -> 200 {"age","ttl","messages":[...],
    "href"} ("grace" optional); 404 when released/expired.
  * claim.update(ttl=T): PATCH /v2/queues/{name}/claims/{cid} with
    Content-Type application/json (NOT json-patch) body {"ttl":T} (grace
    only if given) -> 204.  Claimed messages' lifetimes get extended.
  * claim.delete(): DELETE /v2/queues/{name}/claims/{cid} -> 204; the
    messages become free again.

Misc: cli.ping(): GET /v2/ping -> 204 (ping() returns True unless it raises).
"""

import os
import signal
import sys
import time
import traceback
import uuid

from zaqarclient.queues import client as zclient
from zaqarclient.queues.v2 import core
from zaqarclient.transport import errors as zerrors

RESULTS = {"passed": 0, "failed": 0}
STATE = {}


def check(name, cond, detail=""):
    """Record one check; never raises."""
    if cond:
        RESULTS["passed"] += 1
        print("PASS %s" % name, flush=True)
    else:
        RESULTS["failed"] += 1
        print("FAIL %s%s" % (name, (": " + detail) if detail else ""),
              flush=True)
    return cond


def eq(name, actual, expected):
    return check(name, actual == expected,
                 "expected %r, got %r" % (expected, actual))


def step(name):
    """Decorator: run a group of checks; an exception is one failed check."""
    def deco(fn):
        def run():
            try:
                fn()
            except Exception as ex:  # noqa: BLE001
                tb = traceback.format_exc().strip().splitlines()
                where = tb[-3].strip() if len(tb) >= 3 else ""
                check(name, False, "%s: %s [%s]" % (type(ex).__name__,
                                                    ex, where))
        run.__name__ = fn.__name__
        return run
    return deco


def raises(exc_type, fn):
    try:
        fn()
    except exc_type:
        return True
    except Exception as ex:  # noqa: BLE001
        return "raised %s: %s" % (type(ex).__name__, ex)
    return "did not raise"


def make_client(url, project, client_uuid=None):
    conf = {"auth_opts": {"backend": "noauth",
                          "options": {"os_project_id": project}}}
    if client_uuid is not None:
        conf["client_uuid"] = client_uuid
    return zclient.Client(url, version=2, conf=conf)


def msg_id_from_href(href):
    return href.rstrip("/").split("/")[-1].split("?")[0]


# --------------------------------------------------------------------------
# Steps (run in order; later steps use STATE filled by earlier ones)
# --------------------------------------------------------------------------

@step("ping")
def t_ping():
    eq("ping returns True", STATE["cli"].ping(), True)


@step("queue create")
def t_queue_create():
    cli, other = STATE["cli"], STATE["other"]
    q = cli.queue(STATE["qname"], force_create=True)
    STATE["q"] = q
    eq("queue create: name", q.name, STATE["qname"])
    aux = cli.queue(STATE["aux_name"], force_create=True)
    STATE["aux"] = aux
    # Re-creating an existing queue must be accepted (201/204, no error).
    cli.queue(STATE["qname"], force_create=True)
    check("queue create: idempotent re-create accepted", True)
    # Another project: a queue with a unique name, and one with the SAME
    # name as ours (must be a different queue).
    oq = other.queue(STATE["other_name"], force_create=True)
    STATE["oq"] = oq
    same = other.queue(STATE["qname"], force_create=True)
    same.post({"body": "other-project-message", "ttl": 120})
    STATE["other_same"] = same


@step("queue exists")
def t_queue_exists():
    eq("queue exists: created queue -> True", STATE["q"].exists(), True)
    # Upstream Zaqar answers HEAD with 405 (=> True for any name); a 404
    # (=> False) is nicer.  Either is client-compatible, so only report it.
    ghost = STATE["cli"].queue(STATE["prefix"] + "-never-made",
                               auto_create=False)
    print("INFO queue exists: never-created queue -> %r (405/204 gives "
          "True, 404 gives False; not asserted)" % ghost.exists(),
          flush=True)


@step("queue list")
def t_queue_list():
    cli, other = STATE["cli"], STATE["other"]
    it, count = cli.queues()
    names = [q.name for q in it]
    eq("queue list: exactly our project's queues",
       sorted(names), sorted([STATE["qname"], STATE["aux_name"]]))
    check("queue list: other project's queue not listed",
          STATE["other_name"] not in names, "listed: %r" % names)
    eq("queue list: count is None without with_count", count, None)
    it, count = cli.queues(with_count=True)
    eq("queue list: with_count=True -> count", count, 2)
    it, _ = cli.queues(limit=1)
    eq("queue list: limit=1 -> one queue", len(list(it)), 1)
    it, _ = other.queues()
    onames = sorted(q.name for q in it)
    eq("queue list: other project sees only its queues",
       onames, sorted([STATE["other_name"], STATE["qname"]]))
    for q in cli.queues()[0]:
        check("queue list: href for %s" % q.name,
              (q.href or "").endswith("/v2/queues/" + q.name),
              "href=%r" % q.href)


@step("queue metadata")
def t_queue_metadata():
    cli, q = STATE["cli"], STATE["q"]
    meta = q.metadata(force_reload=True)
    check("metadata get: returns a dict", isinstance(meta, dict),
          "got %r" % (meta,))
    eq("metadata get: default _default_message_ttl",
       meta.get("_default_message_ttl"), 3600)
    eq("metadata get: default _max_messages_post_size",
       meta.get("_max_messages_post_size"), 262144)

    new = q.metadata(new_meta={"color": "red", "size": 3,
                               "_default_message_ttl": 120})
    check("metadata set: PATCH returns the new metadata (200 + body)",
          isinstance(new, dict), "got %r" % (new,))
    new = new or {}
    eq("metadata set: color in response", new.get("color"), "red")
    eq("metadata set: _default_message_ttl in response",
       new.get("_default_message_ttl"), 120)

    fresh = cli.queue(STATE["qname"], auto_create=False)
    got = fresh.metadata(force_reload=True)
    eq("metadata get after set: color", got.get("color"), "red")
    eq("metadata get after set: size", got.get("size"), 3)
    eq("metadata get after set: _default_message_ttl",
       got.get("_default_message_ttl"), 120)
    eq("metadata get after set: _max_messages_post_size still defaulted",
       got.get("_max_messages_post_size"), 262144)

    # Second set: replace 'color', drop 'size' (remove op on a real key),
    # keep the reserved ttl.
    q.metadata(new_meta={"color": "blue", "_default_message_ttl": 120})
    got = fresh.metadata(force_reload=True)
    eq("metadata set (replace): color", got.get("color"), "blue")
    check("metadata set (remove): size removed", "size" not in got,
          "got %r" % got)
    eq("metadata set: _default_message_ttl kept",
       got.get("_default_message_ttl"), 120)

    # Metadata must be per project: same-named queue elsewhere untouched.
    ometa = STATE["other_same"].metadata(force_reload=True)
    check("metadata: other project's same-named queue untouched",
          "color" not in ometa
          and ometa.get("_default_message_ttl") == 3600,
          "got %r" % ometa)

    # Detailed listing carries metadata.
    it, _ = cli.queues(detailed=True)
    listed = {x.name: x for x in it}
    lq = listed.get(STATE["qname"])
    check("queue list detailed: metadata included",
          lq is not None and (lq._metadata or {}).get("color") == "blue",
          "got %r" % (lq and lq._metadata))


@step("queue stats (empty)")
def t_stats_empty():
    s = STATE["q"].stats
    m = s["messages"]
    eq("stats empty: free/claimed/total",
       (m["free"], m["claimed"], m["total"]), (0, 0, 0))


@step("post messages")
def t_post():
    q = STATE["q"]
    r1 = q.post({"body": {"event": "one", "n": 1}})
    res1 = r1.get("resources") if isinstance(r1, dict) else None
    check("post single: 'resources' has one href",
          isinstance(res1, list) and len(res1) == 1, "got %r" % (r1,))
    prefix = "/v2/queues/%s/messages/" % STATE["qname"]
    check("post single: href format", res1[0].startswith(prefix),
          "got %r" % res1[0])
    r2 = q.post([{"body": "two", "ttl": 300},
                 {"body": ["three", 3], "ttl": 600}])
    res2 = r2.get("resources") if isinstance(r2, dict) else None
    check("post batch: 'resources' has two hrefs",
          isinstance(res2, list) and len(res2) == 2, "got %r" % (r2,))
    ids = [msg_id_from_href(h) for h in res1 + res2]
    eq("post: three distinct ids", len(set(ids)), 3)
    STATE["ids"] = ids
    STATE["bodies"] = [{"event": "one", "n": 1}, "two", ["three", 3]]
    STATE["ttls"] = [120, 300, 600]  # 120 = queue's _default_message_ttl


@step("list messages")
def t_list():
    q, other_client_q = STATE["q"], STATE["q_seen_by_client2"]
    ids, bodies, ttls = STATE["ids"], STATE["bodies"], STATE["ttls"]
    eq("list without echo: own messages hidden",
       len(list(q.messages())), 0)
    msgs = list(q.messages(echo=True))
    eq("list echo=True: ids in post order", [m.id for m in msgs], ids)
    eq("list echo=True: bodies", [m.body for m in msgs], bodies)
    eq("list echo=True: ttls (default ttl from queue metadata)",
       [m.ttl for m in msgs], ttls)
    check("list echo=True: ages are small non-negative ints",
          all(isinstance(m.age, int) and 0 <= m.age < 120 for m in msgs),
          "ages %r" % [m.age for m in msgs])
    check("list echo=True: hrefs name the message",
          all((m.href or "").endswith("/messages/" + m.id) for m in msgs),
          "hrefs %r" % [m.href for m in msgs])
    eq("list echo=True limit=2: first two",
       [m.id for m in q.messages(echo=True, limit=2)], ids[:2])
    eq("list from another Client-ID without echo: all visible",
       [m.id for m in other_client_q.messages()], ids)


@step("get message by id")
def t_get_one():
    q, ids, bodies = STATE["q"], STATE["ids"], STATE["bodies"]
    m = q.message(ids[1])
    eq("get by id: id", m.id, ids[1])
    eq("get by id: body", m.body, bodies[1])
    eq("get by id: ttl", m.ttl, 300)
    check("get by id: href", (m.href or "").endswith("/messages/" + ids[1]),
          "href=%r" % m.href)
    check("get by id: missing id -> 404",
          raises(zerrors.ResourceNotFound,
                 lambda: q.message(uuid.uuid4().hex)) is True)


@step("get messages by ids")
def t_get_many():
    q, ids, bodies = STATE["q"], STATE["ids"], STATE["bodies"]
    got = {m.id: m.body for m in q.messages(ids[0], ids[2])}
    eq("get by ids: exactly the two asked for",
       got, {ids[0]: bodies[0], ids[2]: bodies[2]})


@step("claim")
def t_claim():
    q, ids, bodies = STATE["q"], STATE["ids"], STATE["bodies"]
    claim = q.claim(ttl=60, grace=60, limit=2)
    STATE["claim"] = claim
    check("claim: got a claim id", bool(claim.id), "id=%r" % claim.id)
    msgs = list(claim)
    eq("claim limit=2: oldest two messages", [m.id for m in msgs], ids[:2])
    eq("claim: bodies", [m.body for m in msgs], bodies[:2])
    eq("claim: message hrefs carry claim_id",
       [m.claim_id for m in msgs], [claim.id, claim.id])
    STATE["claimed"] = msgs

    s = q.stats["messages"]
    eq("stats after claim: claimed/free/total",
       (s["claimed"], s["free"], s["total"]), (2, 1, 3))
    eq("list echo=True after claim: claimed ones hidden",
       [m.id for m in q.messages(echo=True)], ids[2:])
    m0 = q.message(ids[0])
    eq("get claimed message by id: href has claim_id", m0.claim_id,
       claim.id)
    claim2 = q.claim(ttl=60, grace=60, limit=5)
    eq("second claim gets only the remaining free message",
       [m.id for m in claim2], ids[2:])
    claim2.delete()


@step("list include_claimed")
def t_list_include_claimed():
    # (Upstream Zaqar's redis driver answers this one with 503 because of
    # a driver bug; the mongodb driver and the API reference return all.)
    q, ids = STATE["q"], STATE["ids"]
    eq("list echo=True include_claimed=True: all",
       [m.id for m in q.messages(echo=True, include_claimed=True)], ids)


@step("claim on empty queue")
def t_claim_empty():
    c = STATE["aux"].claim(ttl=60, grace=60, limit=5)
    eq("claim on empty queue: no claim id (204)", c.id, None)
    eq("claim on empty queue: no messages", list(c), [])


@step("claim get")
def t_claim_get():
    q, claim, ids = STATE["q"], STATE["claim"], STATE["ids"]
    got = q.claim(id=claim.id)
    eq("claim get: ttl", got.ttl, 60)
    age = got.age
    check("claim get: age small non-negative int",
          isinstance(age, int) and 0 <= age < 120, "age=%r" % age)
    msgs = list(q.claim(id=claim.id))
    eq("claim get: claim.messages ids", [m.id for m in msgs], ids[:2])
    eq("claim get: messages' claim_id", [m.claim_id for m in msgs],
       [claim.id] * 2)
    check("claim get: unknown claim -> 404",
          raises(zerrors.ResourceNotFound,
                 lambda: q.claim(id=uuid.uuid4().hex).ttl) is True)


@step("claim update")
def t_claim_update():
    q, claim = STATE["q"], STATE["claim"]
    claim.update(ttl=240)
    got = q.claim(id=claim.id)
    eq("claim update: ttl renewed", got.ttl, 240)
    msgs = list(q.claim(id=claim.id))
    check("claim update: claimed messages live at least as long as claim",
          all(m.ttl >= 240 for m in msgs), "ttls %r" % [m.ttl for m in msgs])
    claim.update(ttl=90, grace=60)
    eq("claim update with grace: ttl", q.claim(id=claim.id).ttl, 90)


@step("delete claimed message")
def t_delete_claimed():
    q, cli, claim = STATE["q"], STATE["cli"], STATE["claim"]
    ids = STATE["ids"]
    # Without the claim id a claimed message may not be deleted (403).
    req, trans = cli._request_and_transport()
    res = raises(zerrors.ForbiddenError,
                 lambda: core.message_delete(trans, req, STATE["qname"],
                                             ids[0]))
    check("delete claimed message without claim_id -> 403", res is True,
          str(res))
    # With a wrong claim id -> 400 upstream.
    req, trans = cli._request_and_transport()
    res = raises(zerrors.MalformedRequest,
                 lambda: core.message_delete(trans, req, STATE["qname"],
                                             ids[0], uuid.uuid4().hex))
    check("delete claimed message with unknown claim_id -> 400",
          res is True, str(res))
    m = STATE["claimed"][0]
    eq("claimed message href carries claim id", m.claim_id, claim.id)
    m.delete()  # DELETE .../messages/{id}?claim_id={cid}
    check("delete with claim_id: message gone (404)",
          raises(zerrors.ResourceNotFound,
                 lambda: q.message(ids[0])) is True)
    eq("claim now holds one message",
       [x.id for x in q.claim(id=claim.id)], [ids[1]])
    s = q.stats["messages"]
    eq("stats after claimed delete: claimed/free/total",
       (s["claimed"], s["free"], s["total"]), (1, 1, 2))


@step("release claim")
def t_release():
    q, claim, ids = STATE["q"], STATE["claim"], STATE["ids"]
    claim.delete()
    check("release: claim get -> 404",
          raises(zerrors.ResourceNotFound,
                 lambda: q.claim(id=claim.id).ttl) is True)
    s = q.stats["messages"]
    eq("stats after release: claimed/free/total",
       (s["claimed"], s["free"], s["total"]), (0, 2, 2))
    eq("list after release: both remaining messages free",
       [m.id for m in q.messages(echo=True)], ids[1:])
    m = q.message(ids[1])
    eq("released message: no claim_id in href", m.claim_id, None)


@step("message delete")
def t_message_delete():
    q, ids = STATE["q"], STATE["ids"]
    m = q.message(ids[2])
    m.delete()
    check("message delete: gone (404)",
          raises(zerrors.ResourceNotFound,
                 lambda: q.message(ids[2])) is True)
    eq("list after delete", [x.id for x in q.messages(echo=True)],
       [ids[1]])
    # delete many by ids
    r = q.post([{"body": "d1"}, {"body": "d2"}])
    dids = [msg_id_from_href(h) for h in r["resources"]]
    q.delete_messages(*dids)
    eq("delete by ids: both gone",
       [x.id for x in q.messages(echo=True)], [ids[1]])


@step("pop")
def t_pop():
    q, ids = STATE["q"], STATE["ids"]
    r = q.post([{"body": "p1", "ttl": 200}, {"body": "p2", "ttl": 200}])
    pids = [msg_id_from_href(h) for h in r["resources"]]
    remaining = {ids[1]: "two", pids[0]: "p1", pids[1]: "p2"}
    popped = list(q.pop(2))
    eq("pop 2: two messages", len(popped), 2)
    check("pop 2: known ids and bodies",
          all(remaining.get(m.id) == m.body for m in popped),
          "got %r" % [(m.id, m.body) for m in popped])
    left = set(remaining) - {m.id for m in popped}
    eq("pop: popped messages are gone",
       {m.id for m in q.messages(echo=True)}, left)
    last = list(q.pop(5))
    eq("pop 5 with one left: one message", [m.id for m in last],
       sorted(left))
    eq("pop on empty queue: [] (200)", list(q.pop(1)), [])
    s = q.stats["messages"]
    eq("stats after pops: total", s["total"], 0)


@step("queue stats")
def t_stats():
    q = STATE["q"]
    r = q.post([{"body": "s1"}, {"body": "s2"}, {"body": "s3"}])
    sids = [msg_id_from_href(h) for h in r["resources"]]
    s = q.stats["messages"]
    eq("stats: free/claimed/total", (s["free"], s["claimed"], s["total"]),
       (3, 0, 3))
    check("stats: oldest href is first posted",
          str(s.get("oldest", {}).get("href", "")).endswith(sids[0]),
          "oldest=%r" % s.get("oldest"))
    check("stats: newest href is last posted",
          str(s.get("newest", {}).get("href", "")).endswith(sids[2]),
          "newest=%r" % s.get("newest"))
    os_ = STATE["other_same"].stats["messages"]
    eq("stats: other project's same-named queue isolated", os_["total"], 1)


@step("queue purge")
def t_purge():
    q, cli = STATE["q"], STATE["cli"]
    q.purge()
    s = q.stats["messages"]
    eq("purge: no messages left", s["total"], 0)
    eq("purge: list empty", list(q.messages(echo=True)), [])
    names = [x.name for x in cli.queues()[0]]
    check("purge: queue still exists", STATE["qname"] in names,
          "listed %r" % names)
    got = cli.queue(STATE["qname"], auto_create=False).metadata(
        force_reload=True)
    eq("purge: metadata kept", got.get("color"), "blue")


@step("queue delete")
def t_delete():
    q, cli = STATE["q"], STATE["cli"]
    q.delete()
    names = [x.name for x in cli.queues()[0]]
    check("queue delete: no longer listed", STATE["qname"] not in names,
          "listed %r" % names)
    eq("queue delete: queue list now only the aux queue", names,
       [STATE["aux_name"]])
    onames = [x.name for x in STATE["other"].queues()[0]]
    check("queue delete: other project's same-named queue survives",
          STATE["qname"] in onames, "listed %r" % onames)
    print("INFO queue exists after delete -> %r (not asserted)"
          % q.exists(), flush=True)


def cleanup():
    for key in ("aux", "q", "oq", "other_same"):
        try:
            if key in STATE:
                STATE[key].delete()
        except Exception:  # noqa: BLE001
            pass


def main():
    url = os.environ.get("CAIRN_URL")
    if not url:
        print("CAIRN_URL is not set (e.g. http://127.0.0.1:8888)")
        return 2
    # The client sets no HTTP timeout; never hang CI forever.
    limit = int(os.environ.get("CAIRN_E2E_TIMEOUT", "300"))

    def on_timeout(signum, frame):
        RESULTS["failed"] += 1
        print("FAIL timeout: no result after %ds (a request hung?) at %s:%d"
              % (limit, frame.f_code.co_filename, frame.f_lineno),
              flush=True)
        print("%d passed, %d failed" % (RESULTS["passed"],
                                        RESULTS["failed"]), flush=True)
        os._exit(1)

    signal.signal(signal.SIGALRM, on_timeout)
    signal.alarm(limit)

    run = uuid.uuid4().hex[:10]
    STATE["prefix"] = "e2e-%s" % run
    STATE["qname"] = "e2e-%s-main" % run
    STATE["aux_name"] = "e2e-%s-aux" % run
    STATE["other_name"] = "e2e-%s-other" % run
    project = "cairn-e2e-%s" % run
    other_project = "cairn-e2e-%s-b" % run
    print("INFO url=%s project=%s queue=%s" % (url, project, STATE["qname"]),
          flush=True)

    # Main client: default Client-ID (uuid4 hex, no dashes).
    STATE["cli"] = make_client(url, project)
    # Same project, different Client-ID (dashed form) - sees messages
    # without echo.
    cli2 = make_client(url, project, client_uuid=str(uuid.uuid4()))
    STATE["q_seen_by_client2"] = cli2.queue(STATE["qname"],
                                            auto_create=False)
    STATE["other"] = make_client(url, other_project)

    steps = [t_ping, t_queue_create, t_queue_exists, t_queue_list,
             t_queue_metadata, t_stats_empty, t_post, t_list, t_get_one,
             t_get_many, t_claim, t_list_include_claimed, t_claim_empty,
             t_claim_get, t_claim_update, t_delete_claimed, t_release,
             t_message_delete, t_pop, t_stats, t_purge, t_delete]
    started = time.time()
    try:
        for s in steps:
            s()
    finally:
        cleanup()
        signal.alarm(0)
    print("INFO took %.1fs" % (time.time() - started))
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] or not RESULTS["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
