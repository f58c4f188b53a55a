"""python-zaqarclient with Keystone authentication against the real Cairn binary.

Starts a real Keystone (tests/keystone/serve.py, in the venv of tests/keystone/setup.sh)
and `$CAIRN_BIN serve --auth keystone`, then drives Cairn with zaqarclient's `keystone`
auth backend (alice of project alpha, bob of project beta) and its `signed-url` backend.
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


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("%d passed, %d failed" % (result.testsRun - failed - len(result.skipped), failed),
          flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)
