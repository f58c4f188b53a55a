"""python-zaqarclient with Keystone authentication against the real Cairn binary.

Starts a real Keystone (tests/keystone/serve.py, in the venv of tests/keystone/setup.sh)
and `$CAIRN_BIN serve --auth keystone`, then drives Cairn with zaqarclient's `keystone`
auth backend (alice of project alpha, bob of project beta) and its `signed-url` backend,
and with the openstack CLI (python-openstackclient and zaqarclient's plugin).
The store is SQLite in a temporary directory, or $CAIRN_STORE when set.

    CAIRN_BIN=target/release/cairn python tests/e2e/test_keystone.py
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid

from keystoneauth1 import session
from keystoneauth1.identity import v3
from zaqarclient.queues import client as zclient
from zaqarclient.transport import errors

HERE = os.path.dirname(os.path.abspath(__file__))
KS_SERVE = os.path.join(HERE, "..", "keystone", "serve.py")
KS_PYTHON = os.path.join(
    os.environ.get("CAIRN_KEYSTONE_VENV",
                   os.path.join(os.environ.get("CAIRN_CACHE",
                                               os.path.expanduser("~/.cache/cairn")),
                                "keystone-venv")),
    "bin", "python")

KEYSTONE = None
CAIRN = None
CAIRN_URL = None
DATA_DIR = None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def setUpModule():
    global KEYSTONE, CAIRN, CAIRN_URL, DATA_DIR, FIXTURES
    KEYSTONE = subprocess.Popen([KS_PYTHON, KS_SERVE], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
    FIXTURES = json.loads(KEYSTONE.stdout.readline())
    port = free_port()
    DATA_DIR = tempfile.mkdtemp(prefix="cairn-e2e-keystone-")
    CAIRN_URL = "http://127.0.0.1:%d" % port
    CAIRN = subprocess.Popen([
        os.environ["CAIRN_BIN"], "serve", "--bind", "127.0.0.1:%d" % port,
        "--no-websocket", "--data-dir", DATA_DIR, "--no-notify",
        "--auth", "keystone", "--keystone-url", FIXTURES["url"],
        "--keystone-user", "cairn", "--keystone-password=" + FIXTURES["password"],
        "--keystone-project", "service", "--signing-key", "e2e-secret",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen(CAIRN_URL + "/", timeout=1)
        except urllib.error.HTTPError:
            return  # 300 from the versions document: it answers
        except OSError:
            time.sleep(0.2)
            continue
        return
    raise RuntimeError("cairn did not start")


def tearDownModule():
    for process in (CAIRN, KEYSTONE):
        if process is None:
            continue
        if process is KEYSTONE:
            process.stdin.close()
        else:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def keystone_client(user, project):
    """A zaqarclient of `user` with a token scoped to `project` (fixture names)."""
    options = {
        "os_auth_url": FIXTURES["url"] + "/v3",
        "os_username": user,
        "os_password": FIXTURES["password"],
        "os_project_id": FIXTURES["projects"][project],
        "os_user_domain_id": "default",
        "os_project_domain_id": "default",
    }
    conf = {"auth_opts": {"backend": "keystone", "options": options}}
    return zclient.Client(CAIRN_URL, version=2, conf=conf)


def names(client):
    """The names of the client's queues (`queues()` answers an iterator and a count)."""
    queues, _ = client.queues()
    return [q.name for q in queues]


class KeystoneEndToEnd(unittest.TestCase):

    def test_projects_come_from_tokens(self):
        alice = keystone_client("alice", "alpha")
        queue = alice.queue("ks-orders-%s" % uuid.uuid4().hex[:8])
        queue.post([{"body": {"n": 1}, "ttl": 300}])
        listed = list(queue.messages(echo=True))
        self.assertEqual([m.body for m in listed], [{"n": 1}])
        self.assertIn(queue.name, names(alice))

        bob = keystone_client("bob", "beta")
        self.assertNotIn(queue.name, names(bob))

        # bob's own token (scoped to beta) sent with alpha's project header: refused.
        auth = v3.Password(auth_url=FIXTURES["url"] + "/v3", username="bob",
                           password=FIXTURES["password"], user_domain_id="default",
                           project_id=FIXTURES["projects"]["beta"])
        bob_token = session.Session(auth=auth).get_token()
        intruder = zclient.Client(CAIRN_URL, version=2, conf={
            "auth_opts": {"backend": "keystone", "options": {
                "os_auth_token": bob_token,
                "os_project_id": FIXTURES["projects"]["alpha"]}}})
        with self.assertRaises(errors.ForbiddenError):
            list(intruder.queue(queue.name, auto_create=False).messages(echo=True))

    def test_without_a_token_nothing_is_served(self):
        anonymous = zclient.Client(CAIRN_URL, version=2, conf={
            "auth_opts": {"backend": "noauth",
                          "options": {"os_project_id": FIXTURES["projects"]["alpha"]}}})
        with self.assertRaises(errors.UnauthorizedError):
            names(anonymous)

    def test_signed_urls(self):
        alice = keystone_client("alice", "alpha")
        name = "ks-shared-%s" % uuid.uuid4().hex[:8]
        queue = alice.queue(name)
        queue.post([{"body": "before"}])
        signed = queue.signed_url(paths=["messages"], methods=["GET", "POST"],
                                  ttl_seconds=600)
        self.assertEqual(signed["paths"], ["/v2/queues/%s/messages" % name])
        self.assertEqual(signed["project"], FIXTURES["projects"]["alpha"])
        options = {
            "signature": signed["signature"], "expires": signed["expires"],
            "methods": signed["methods"], "paths": signed["paths"],
            "os_project_id": signed["project"],
        }
        bearer = zclient.Client(CAIRN_URL, version=2, conf={
            "auth_opts": {"backend": "signed-url", "options": options}})
        shared = bearer.queue(name, auto_create=False)
        shared.post([{"body": "via signature"}])
        bodies = sorted(m.body for m in shared.messages(echo=True))
        self.assertEqual(bodies, ["before", "via signature"])
        # Another queue of the same project is out of reach.
        with self.assertRaises(errors.ResourceNotFound):
            list(bearer.queue("other", auto_create=False).messages(echo=True))



def openstack(*args, user="alice", project="alpha", client_id=None):
    """Runs the openstack CLI (python-openstackclient with zaqarclient's plugin) as `user`
    of `project` against Cairn, with `client_id` as its Client-ID where messages need one;
    answers its parsed JSON output (or None without output)."""
    env = dict(os.environ)
    if client_id:
        env["OS_MESSAGE_CLIENT_ID"] = client_id
    env.update({
        "OS_AUTH_URL": FIXTURES["url"] + "/v3",
        "OS_USERNAME": user,
        "OS_PASSWORD": FIXTURES["password"],
        "OS_PROJECT_ID": FIXTURES["projects"][project],
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_DOMAIN_ID": "default",
        "OS_IDENTITY_API_VERSION": "3",
        # Cairn is not in this Keystone's catalogue: the endpoint is given.
        "OS_MESSAGING_ENDPOINT_OVERRIDE": CAIRN_URL,
    })
    cli = os.path.join(os.path.dirname(sys.executable), "openstack")
    done = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError("openstack %s failed (%d): %s" % (
            " ".join(args), done.returncode, done.stderr.strip()[-2000:]))
    out = done.stdout.strip()
    return json.loads(out) if out else None


class OpenStackCli(unittest.TestCase):
    """The openstack CLI drives Cairn as it drives Zaqar: queues, messages, claims and
    subscriptions, authenticated by Keystone."""

    def test_queues_messages_and_claims(self):
        queue = "cli-%s" % uuid.uuid4().hex[:8]
        client_id = str(uuid.uuid4())
        openstack("messaging", "queue", "create", queue, "-f", "json")
        listed = openstack("messaging", "queue", "list", "-f", "json")
        self.assertIn(queue, [q["Name"] for q in listed])
        self.assertNotIn(queue, [q["Name"] for q in openstack(
            "messaging", "queue", "list", "-f", "json", user="bob", project="beta")])
        posted = [{"body": {"n": 1}, "ttl": 300}, {"body": {"n": 2}, "ttl": 300}]
        openstack("messaging", "message", "post", queue, json.dumps(posted),
                  client_id=client_id)
        messages = openstack("messaging", "message", "list", queue, "--echo", "-f", "json",
                             client_id=client_id)
        self.assertEqual(sorted(m["Body"]["n"] for m in messages), [1, 2])
        claimed = openstack("messaging", "claim", "create", queue, "--ttl", "60",
                            "--grace", "60", "--limit", "1", "-f", "json",
                            client_id=client_id)
        self.assertEqual(len(claimed), 1)
        stats = openstack("messaging", "queue", "stats", queue, "-f", "json")
        self.assertEqual(stats["Stats"]["messages"]["claimed"], 1)
        self.assertEqual(stats["Stats"]["messages"]["total"], 2)
        openstack("messaging", "queue", "delete", queue)
        self.assertNotIn(queue, [q["Name"] for q in openstack(
            "messaging", "queue", "list", "-f", "json")])

    def test_subscription_update_changes_only_what_it_names(self):
        queue = "cli-sub-%s" % uuid.uuid4().hex[:8]
        openstack("messaging", "queue", "create", queue, "-f", "json")
        created = openstack("messaging", "subscription", "create", queue,
                            "http://example.com/hook", "3600", "-f", "json")
        sid = created["ID"]
        # Sends {"subscriber": null, "ttl": 7200, "options": {}}: null means unchanged.
        openstack("messaging", "subscription", "update", queue, sid, "--ttl", "7200",
                  "-f", "json")
        shown = openstack("messaging", "subscription", "show", queue, sid, "-f", "json")
        self.assertEqual(shown["TTL"], 7200)
        self.assertEqual(shown["Subscriber"], "http://example.com/hook")
        listed = openstack("messaging", "subscription", "list", queue, "-f", "json")
        self.assertEqual([s["ID"] for s in listed], [sid])
        openstack("messaging", "subscription", "delete", queue, sid)
        self.assertEqual(
            openstack("messaging", "subscription", "list", queue, "-f", "json"), [])

if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("%d passed, %d failed" % (result.testsRun - failed - len(result.skipped), failed),
          flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)
