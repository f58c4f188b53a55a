#!/usr/bin/env python3
"""End to end: python-zaqarclient's subscription API against a Cairn server, and webhook
delivery to a real HTTP receiver started here on 127.0.0.1.

Usage:  CAIRN_URL=http://127.0.0.1:8888 CAIRN_E2E_SMTP_PORT=2525 python test_notifications.py
        The server must allow notifications to 127.0.0.1
        (cairn serve --notify-allow-hosts 127.0.0.1/32) and relay mail to the SMTP
        server (aiosmtpd) this script runs on CAIRN_E2E_SMTP_PORT
        (--smtp-url smtp://127.0.0.1:PORT); run.sh starts it so. Without
        CAIRN_E2E_SMTP_PORT the mail checks are reported as SKIP.
Prints one line per check ("PASS name" / "FAIL name: why"), ends with
"N passed, N failed", exits 1 on failure.

What python-zaqarclient (v2) sends for subscriptions:
  * cli.subscription(queue, subscriber=..., ttl=..., options=...):
    POST /v2/queues/{q}/subscriptions {"subscriber","ttl","options"} -> 201
    {"subscription_id"}, then GET .../subscriptions/{id} to fill the object.
  * Subscription(cli, queue, id=..., auto_create=False).ensure_exists(): the GET.
  * cli.subscriptions(queue): GET .../subscriptions -> {"subscriptions", "links"},
    objects built from "source", "subscriber", "ttl", "id", "age", "confirmed".
  * sub.update(data): PATCH .../subscriptions/{id} (plain JSON) -> 204.
  * sub.delete(): DELETE .../subscriptions/{id} -> 204.
"""

import email
import http.server
import json
import os
import sys
import threading
import time
import urllib.request
import uuid

from aiosmtpd.controller import Controller
from zaqarclient.queues import client as zclient
from zaqarclient.queues.v2 import subscription as zsub

RESULTS = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        RESULTS["passed"] += 1
        print("PASS %s" % name, flush=True)
    else:
        RESULTS["failed"] += 1
        print("FAIL %s: %s" % (name, detail), flush=True)


class Receiver(http.server.ThreadingHTTPServer):
    """Records every POST; answers 200."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)

    def at(self, path):
        with self.lock:
            return [r for r in self.received if r["path"] == path]

    def wait_for(self, path, n, within=10.0):
        deadline = time.time() + within
        while time.time() < deadline:
            got = self.at(path)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        return self.at(path)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        with self.server.lock:
            self.server.received.append(
                {"path": self.path, "body": body,
                 "headers": {k.lower(): v for k, v in self.headers.items()}})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Mailbox:
    """aiosmtpd handler keeping every mail it accepts."""

    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                           "data": envelope.content.decode("utf-8", "replace")})
        return "250 Message accepted for delivery"


def check_mail(url, cli, project, run):
    port = os.environ.get("CAIRN_E2E_SMTP_PORT")
    if not port:
        print("SKIP mail: set CAIRN_E2E_SMTP_PORT (the server's --smtp-url port)")
        return
    box = Mailbox()
    smtpd = Controller(box, hostname="127.0.0.1", port=int(port))
    smtpd.start()
    try:
        queue = "e2e-mail-%s" % run
        cli.subscription(queue, subscriber="mailto:ops@example.com?subject=Order%20placed",
                         ttl=600, options={"from": "cairn@example.org"})
        posted = cli.queue(queue, auto_create=False).post({"body": {"mail": run}, "ttl": 300})
        message_id = posted["resources"][0].rsplit("/", 1)[-1]
        deadline = time.time() + 15
        while time.time() < deadline and not box.mails:
            time.sleep(0.05)
        check("mail: one mail through the SMTP relay", len(box.mails) == 1,
              repr(box.mails))
        if box.mails:
            mail = box.mails[0]
            check("mail: envelope sender and recipient",
                  mail["from"] == "cairn@example.org" and mail["to"] == ["ops@example.com"],
                  repr(mail))
            parsed = email.message_from_string(mail["data"])
            check("mail: subject from the URI", parsed["Subject"] == "Order placed",
                  repr(parsed["Subject"]))
            body = (parsed.get_payload(decode=True) or b"").decode().strip()
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            check("mail: the body is the notification",
                  doc == {"ttl": 300, "body": {"mail": run},
                          "Message_Type": "Notification", "queue_name": queue},
                  repr(body))
        kinds = []
        deadline = time.time() + 10
        while time.time() < deadline and "NotificationDelivered" not in kinds:
            kinds = [e["type"] for e in history(url, project, queue, message_id)["events"]]
            time.sleep(0.05)
        check("mail: delivery recorded", "NotificationDelivered" in kinds, repr(kinds))
    finally:
        smtpd.stop()


def history(url, project, queue, message_id):
    req = urllib.request.Request(
        "%s/v2/queues/%s/messages/%s/history" % (url, queue, message_id),
        headers={"Client-ID": str(uuid.uuid4()), "X-Project-ID": project})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    url = os.environ["CAIRN_URL"].rstrip("/")
    rx = Receiver()
    threading.Thread(target=rx.serve_forever, daemon=True).start()
    hook = "http://127.0.0.1:%d/hook" % rx.server_address[1]
    run = uuid.uuid4().hex[:10]
    project = "cairn-e2e-notify-%s" % run
    queue = "e2e-notify-%s" % run
    cli = zclient.Client(url, version=2, conf={
        "auth_opts": {"backend": "noauth",
                      "options": {"os_project_id": project}}})

    # Create, then read back what the client filled in.
    sub = cli.subscription(queue, subscriber=hook, ttl=600,
                           options={"post_headers": {"X-E2E": run}})
    check("subscription create: an id", bool(sub.id), repr(sub.id))
    check("subscription create: subscriber read back", sub.subscriber == hook,
          repr(sub.subscriber))
    check("subscription create: ttl read back", sub.ttl == 600, repr(sub.ttl))
    check("subscription create: not confirmed", sub.confirmed is False,
          repr(sub.confirmed))
    again = cli.subscription(queue, subscriber=hook, ttl=600)
    check("subscription create again: same id while unconfirmed",
          again.id == sub.id, "%r vs %r" % (again.id, sub.id))

    got = zsub.Subscription(cli, queue, id=sub.id, auto_create=False)
    got.ensure_exists()
    check("subscription get: options", got.options == {"post_headers": {"X-E2E": run}},
          repr(got.options))

    listed = list(cli.subscriptions(queue))
    check("subscription list: the one subscription",
          [s.id for s in listed] == [sub.id], repr([s.id for s in listed]))
    check("subscription list: source is the queue",
          listed and listed[0].queue_name == queue,
          repr(listed and listed[0].queue_name))

    sub.update({"ttl": 900})
    got.ensure_exists()
    check("subscription update: ttl changed", got.ttl == 900, repr(got.ttl))

    # A posted message reaches the receiver as Zaqar's notification.
    q = cli.queue(queue, auto_create=False)
    posted = q.post({"body": {"order": run}, "ttl": 300})
    message_id = posted["resources"][0].rsplit("/", 1)[-1]
    delivered = rx.wait_for("/hook", 1)
    check("delivery: one request", len(delivered) == 1, repr(delivered))
    if delivered:
        doc = json.loads(delivered[0]["body"])
        check("delivery: Zaqar's payload",
              doc == {"ttl": 300, "body": {"order": run},
                      "Message_Type": "Notification", "queue_name": queue},
              repr(doc))
        check("delivery: post_headers sent",
              delivered[0]["headers"].get("x-e2e") == run,
              repr(delivered[0]["headers"]))
    kinds = []
    deadline = time.time() + 10
    while time.time() < deadline and "NotificationDelivered" not in kinds:
        kinds = [e["type"] for e in history(url, project, queue, message_id)["events"]]
        time.sleep(0.05)
    check("delivery: recorded in the message's history",
          "NotificationDelivered" in kinds, repr(kinds))

    # Deleted: no more notifications.
    sub.delete()
    check("subscription delete: list is empty", list(cli.subscriptions(queue)) == [],
          "still listed")
    q.post({"body": {"after": "delete"}, "ttl": 300})
    time.sleep(1.0)
    check("subscription delete: nothing more delivered",
          len(rx.at("/hook")) == 1, repr(rx.at("/hook")))
    q.delete()
    rx.shutdown()

    check_mail(url, cli, project, run)

    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] or not RESULTS["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
