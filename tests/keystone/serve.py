"""Run a throw-away OpenStack Keystone for Cairn's integration tests.

Usage (with the interpreter of the venv that tests/keystone/setup.sh makes):

    tests/keystone/setup.sh
    ~/.cache/cairn/keystone-venv/bin/python tests/keystone/serve.py \
        [--token-expiration SECONDS] [--dir DIR] [--no-cache]

It writes a keystone.conf into a work directory (a new temporary directory,
or DIR), runs ``keystone-manage`` fernet_setup, credential_setup, db_sync and
bootstrap against it (SQLite database, Fernet tokens), serves Keystone with
gunicorn on a free port of 127.0.0.1, creates the fixtures below through the
REST API, and then prints ONE line of JSON on stdout, e.g.

    {"url": "http://127.0.0.1:PORT", "dir": "/tmp/cairn-keystone-XXXX",
     "log": "/tmp/cairn-keystone-XXXX/keystone.log", "password": "...",
     "domain": "default",
     "projects": {"alpha": ID, "beta": ID, "service": ID, "admin": ID},
     "users": {"admin": ID, "alice": ID, "bob": ID, "root": ID, "carol": ID,
               "cairn": ID},
     "service": {"user": "cairn", "project": "service"},
     "application_credential": {"id": ID, "secret": "..."}}

Fixtures (all in domain "default", all users share "password"; "admin" is the
bootstrap admin, who also has the admin role on the system):

    alice  member on alpha        bob    member on beta
    root   admin  on alpha        carol  reader on alpha
    cairn  admin  on service      (the service user Cairn validates tokens as)

plus an application credential of cairn (scoped to service, with cairn's
roles there). The Keystone API is at URL + "/v3"; the catalog has its identity
endpoints in region RegionOne.

After the JSON line the script stays in the foreground until its stdin reaches
EOF or it gets SIGTERM/SIGINT; then it stops gunicorn (its whole process
group) and removes the temporary directory (a --dir you gave is left in
place). So a test that spawns it with a piped stdin cleans it up just by
closing that pipe, or by dying. Gunicorn (and keystone-manage during set-up)
also get SIGTERM from the kernel if this script itself is SIGKILLed
(PR_SET_PDEATHSIG); the directory then stays behind.

On failure it prints the tail of the log on stderr and exits 1 (2 for bad
arguments); a normal shutdown exits 0. From Python, for instance:

    p = subprocess.Popen([venv_python, "tests/keystone/serve.py"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ks = json.loads(p.stdout.readline())   # ~5-7 s
    ...
    p.stdin.close(); p.wait()              # ~1 s

Keystone behaviour seen with this set-up (Keystone 30.0.0):
  * bootstrap creates the roles admin, manager, member, reader and service,
    with admin => manager => member => reader implied, so a token's roles
    list the implied ones too (alice: member, reader; root: all four).
  * GET /v3/auth/tokens (X-Auth-Token: service token, X-Subject-Token: the
    token to check): 200 when valid; 404 for a garbage, tampered, revoked
    (DELETE /v3/auth/tokens) or expired subject token (?allow_expired=1 still
    gives 200 for an expired one for [token] allow_expired_window = 10 s);
    401 when the service token itself is garbage or expired; 403 when the
    caller is neither admin/service nor the subject (e.g. bob).
  * Password auth scoped to a project the user has no role on is 401.
  * Fernet times have whole seconds: expires_at = issued_at (truncated) +
    expiration, so --token-expiration 5 gives a token valid for 4-5 s.
  * Gunicorn runs 1 worker with 8 threads (the in-memory cache needs a single
    process).

Options:
    --token-expiration SECONDS   Keystone's [token] expiration (default 3600)
    --dir DIR                    work directory (must not hold a keystone.db
                                 already; created if missing; kept at exit)
    --no-cache                   turn off Keystone's cache (on by default:
                                 [cache] backend dogpile.cache.memory). Slow:
                                 without it a token validation takes ~1 s
                                 here instead of ~10 ms, start-up 15-20 s.

Everything Keystone, gunicorn and keystone-manage log goes to DIR/keystone.log.
Notes: keystone-manage reads the file given with --config-file (without it, it
looks in ~/.keystone, ~/, /etc/keystone, /etc); the WSGI application reads the
files listed in $OS_KEYSTONE_CONFIG_FILES (';'-separated) and also parses
sys.argv with oslo.config, hence the wrapper module that resets sys.argv.
"""

import argparse
import ctypes
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

WSGI_MODULE = "cairn_keystone_wsgi"
READY_MARKER = ".setup-done"
FAILED_MARKER = ".setup-failed"
WAIT_SECONDS = 60

# Written into the work dir and loaded by gunicorn. Importing keystone takes
# ~3 s, so the worker does that while keystone-manage runs, waits for the
# set-up to finish (the marker files), and only then builds the application.
WSGI_WRAPPER = '''\
"""gunicorn entry point for serve.py's Keystone (generated)."""
import os
import sys
import time

os.environ["OS_KEYSTONE_CONFIG_FILES"] = {conf!r}
# oslo.config parses sys.argv[1:], which holds gunicorn's arguments here.
sys.argv = sys.argv[:1]

import keystone.server.flask.application  # noqa: E402,F401  (slow imports)
import keystone.server.wsgi  # noqa: E402,F401

_deadline = time.monotonic() + 300
while not os.path.exists({ready!r}):
    if os.path.exists({failed!r}) or time.monotonic() > _deadline:
        raise SystemExit("keystone set-up failed or timed out")
    time.sleep(0.05)

from keystone.wsgi.api import application as _keystone  # noqa: E402
import threading  # noqa: E402

_writes = threading.Lock()


def application(environ, start_response):
    # SQLite fails a transaction that cannot upgrade its read lock to a write
    # lock ("database is locked"), so requests that may write (all but GET and
    # HEAD: token issuance, revocation, fixtures) run one at a time.
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        return _keystone(environ, start_response)
    with _writes:
        return list(_keystone(environ, start_response))
'''

CONF_TEMPLATE = """\
[DEFAULT]
log_file = {log}
use_stderr = false
debug = false

[database]
# Concurrent token requests write to the one SQLite file: wait for its lock
# (pysqlite's busy timeout, seconds) instead of failing with "database is locked".
connection = sqlite:///{dir}/keystone.db?timeout=30

[token]
provider = fernet
expiration = {expiration}
allow_expired_window = 10

[fernet_tokens]
key_repository = {dir}/fernet-keys

[fernet_receipts]
key_repository = {dir}/fernet-keys

[credential]
key_repository = {dir}/credential-keys

[identity]
# bcrypt's minimum cost: password checks are ~1 ms instead of ~250 ms.
password_hash_rounds = 4

[cache]
# In-process cache (there is one gunicorn worker, so it stays coherent;
# Keystone invalidates it on revocations and role changes): a token
# validation takes ~10 ms instead of ~1 s.
enabled = {cache}
backend = dogpile.cache.memory
"""


class Stop(Exception):
    """Raised in the main thread to shut down (signal or stdin EOF)."""


def log(msg):
    print("[keystone] %s" % msg, file=sys.stderr, flush=True)


def set_pdeathsig():
    """preexec_fn: get SIGTERM when this script dies (Linux only)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def log_tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()[-16384:].decode("utf-8", "replace")
        return "\n".join(data.splitlines()[-lines:])
    except OSError as e:
        return "(no log: %s)" % e


# ---- keystone-manage, all commands in one process ----------------------------

def manage_main(conf):
    """Hidden mode: run the keystone-manage commands in one interpreter.

    Each keystone-manage run spends ~3 s importing keystone; one process for
    all four saves ~10 s. cli.main() is what the keystone-manage script calls.
    """
    import warnings
    warnings.simplefilter("ignore")
    from keystone.cmd import cli
    from keystone.conf import CONF

    spec = json.loads(os.environ["CAIRN_KEYSTONE_MANAGE"])
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    owner = ["--keystone-user", user, "--keystone-group", group]
    url = spec["url"] + "/v3"
    commands = [
        ["fernet_setup"] + owner,
        ["credential_setup"] + owner,
        ["db_sync"],
        # "=" keeps a password that begins with "-" from reading as a flag.
        ["bootstrap", "--bootstrap-password=" + spec["password"],
         "--bootstrap-username", "admin",
         "--bootstrap-project-name", "admin",
         "--bootstrap-role-name", "admin",
         "--bootstrap-region-id", "RegionOne",
         "--bootstrap-admin-url", url,
         "--bootstrap-public-url", url,
         "--bootstrap-internal-url", url],
    ]
    for cmd in commands:
        CONF.clear()
        cli.main(argv=["keystone-manage", "--config-file", conf] + cmd)
    return 0


# ---- REST fixtures ------------------------------------------------------------

class Api:
    def __init__(self, base):
        import requests
        self.base = base + "/v3"
        self.http = requests.Session()
        self.token = None

    def call(self, method, path, body=None, expect=(200, 201, 204), token=None):
        headers = {}
        tok = token or self.token
        if tok:
            headers["X-Auth-Token"] = tok
        r = self.http.request(method, self.base + path, json=body,
                              headers=headers, timeout=30)
        if r.status_code not in expect:
            raise RuntimeError("%s %s -> %d: %s"
                               % (method, path, r.status_code, r.text[:500]))
        return r

    def password_token(self, user, password, project):
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"},
                "password": password}}},
            "scope": {"project": {"name": project,
                                  "domain": {"id": "default"}}}}}
        r = self.call("POST", "/auth/tokens", body, expect=(201,), token="")
        return r.headers["X-Subject-Token"], r.json()["token"]


def create_fixtures(url, password):
    api = Api(url)
    api.token, admin_tok = api.password_token("admin", password, "admin")
    projects = {"admin": admin_tok["project"]["id"]}
    users = {"admin": admin_tok["user"]["id"]}
    roles = {r["name"]: r["id"]
             for r in api.call("GET", "/roles").json()["roles"]}
    for name in ("alpha", "beta", "service"):
        r = api.call("POST", "/projects", {"project": {
            "name": name, "domain_id": "default", "enabled": True,
            "description": "Cairn test project %s" % name}})
        projects[name] = r.json()["project"]["id"]
    grants = [("alice", "member", "alpha"), ("bob", "member", "beta"),
              ("root", "admin", "alpha"), ("carol", "reader", "alpha"),
              ("cairn", "admin", "service")]
    for user, role, project in grants:
        r = api.call("POST", "/users", {"user": {
            "name": user, "domain_id": "default", "enabled": True,
            "password": password, "default_project_id": projects[project]}})
        users[user] = r.json()["user"]["id"]
        api.call("PUT", "/projects/%s/users/%s/roles/%s"
                 % (projects[project], users[user], roles[role]))
    svc_tok, _ = api.password_token("cairn", password, "service")
    r = api.call("POST", "/users/%s/application_credentials" % users["cairn"],
                 {"application_credential": {
                     "name": "cairn-tests",
                     "description": "Cairn integration tests"}},
                 token=svc_tok)
    cred = r.json()["application_credential"]
    return projects, users, {"id": cred["id"], "secret": cred["secret"]}


# ---- main ---------------------------------------------------------------------

def wait_ready(url, procs, deadline):
    import requests
    last = "no answer"
    while time.monotonic() < deadline:
        for name, p in procs:
            if p.poll() is not None:
                raise RuntimeError("%s exited with status %s" % (name, p.returncode))
        try:
            r = requests.get(url + "/v3", timeout=5)
            if r.status_code == 200:
                return
            last = "status %d" % r.status_code
        except requests.RequestException as e:
            last = e.__class__.__name__
        time.sleep(0.1)
    raise RuntimeError("GET %s/v3 not 200 after %d s (%s)"
                       % (url, WAIT_SECONDS, last))


def stop_group(p, name):
    if p is None:
        return
    # SIGINT is gunicorn's quick shutdown (SIGTERM would let the workers wait
    # for idle keep-alive connections up to --graceful-timeout).
    try:
        os.killpg(p.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log("%s ignored SIGINT; killing it" % name)
    try:
        os.killpg(p.pid, signal.SIGKILL)  # workers left behind, if any
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log("%s (pid %d) did not die" % (name, p.pid))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--token-expiration", type=int, default=3600,
                    metavar="SECONDS")
    ap.add_argument("--dir", help="work directory (kept); default: a new "
                    "temporary directory, removed at exit")
    ap.add_argument("--no-cache", action="store_true",
                    help="disable Keystone's (in-memory) cache; much slower")
    ap.add_argument("--_manage", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.token_expiration < 0:
        ap.error("--token-expiration must be >= 0")
    if args._manage:
        return manage_main(args._manage)

    t0 = time.monotonic()

    def on_signal(signum, frame):
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    if args.dir:
        work = os.path.abspath(args.dir)
        os.makedirs(work, exist_ok=True)
        if os.path.exists(os.path.join(work, "keystone.db")):
            log("%s already holds a keystone.db" % work)
            return 2
        remove_dir = False
    else:
        work = tempfile.mkdtemp(prefix="cairn-keystone-")
        remove_dir = True
    logfile = os.path.join(work, "keystone.log")
    conf = os.path.join(work, "keystone.conf")

    manage = gunicorn = None
    sock = None
    status = 1
    try:
        # Bind (without listening) a free port and hand the socket to gunicorn,
        # so nobody can take the port between choosing it and serving on it.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        url = "http://127.0.0.1:%d" % port
        password = secrets.token_urlsafe(12)

        with open(conf, "w") as f:
            f.write(CONF_TEMPLATE.format(dir=work, log=logfile,
                                         expiration=args.token_expiration,
                                         cache=str(not args.no_cache).lower()))
        with open(os.path.join(work, WSGI_MODULE + ".py"), "w") as f:
            f.write(WSGI_WRAPPER.format(
                conf=conf, ready=os.path.join(work, READY_MARKER),
                failed=os.path.join(work, FAILED_MARKER)))

        out = open(logfile, "ab", buffering=0)
        env = dict(os.environ, PYTHONWARNINGS="ignore",
                   OS_KEYSTONE_CONFIG_FILES=conf,
                   CAIRN_KEYSTONE_MANAGE=json.dumps(
                       {"url": url, "password": password}))
        manage = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--_manage", conf],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
            cwd=work, start_new_session=True, preexec_fn=set_pdeathsig)
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn",
             "--bind", "fd://%d" % sock.fileno(),
             "--chdir", work,
             "--workers", "1", "--threads", "8",
             "--timeout", "300", "--graceful-timeout", "2",
             "--keep-alive", "5",
             "--error-logfile", "-", "--log-level", "warning",
             WSGI_MODULE + ":application"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
            cwd=work, start_new_session=True, preexec_fn=set_pdeathsig,
            pass_fds=(sock.fileno(),))
        out.close()
        sock.close()
        sock = None

        # Closing our stdin (e.g. the parent died) means: shut down.
        def watch_stdin():
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            os.kill(os.getpid(), signal.SIGTERM)
        threading.Thread(target=watch_stdin, daemon=True).start()

        deadline = time.monotonic() + WAIT_SECONDS
        while manage.poll() is None:
            if gunicorn.poll() is not None:
                raise RuntimeError("gunicorn exited with status %s"
                                   % gunicorn.returncode)
            if time.monotonic() > deadline:
                raise RuntimeError("keystone-manage still running after %d s"
                                   % WAIT_SECONDS)
            time.sleep(0.05)
        if manage.returncode != 0:
            open(os.path.join(work, FAILED_MARKER), "w").close()
            raise RuntimeError("keystone-manage failed (status %d)"
                               % manage.returncode)
        manage = None
        open(os.path.join(work, READY_MARKER), "w").close()
        t_manage = time.monotonic() - t0

        wait_ready(url, [("gunicorn", gunicorn)], deadline)
        t_serve = time.monotonic() - t0
        projects, users, app_cred = create_fixtures(url, password)

        line = json.dumps({
            "url": url, "dir": work, "log": logfile, "password": password,
            "domain": "default", "projects": projects, "users": users,
            "service": {"user": "cairn", "project": "service"},
            "application_credential": app_cred})
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        log("ready at %s in %.1f s (keystone-manage %.1f s, serving %.1f s)"
            % (url, time.monotonic() - t0, t_manage, t_serve))

        while True:
            if gunicorn.poll() is not None:
                raise RuntimeError("gunicorn exited with status %s"
                                   % gunicorn.returncode)
            time.sleep(0.5)
    except Stop:
        status = 0
    except BrokenPipeError:
        status = 0  # our reader is gone: just clean up
    except Exception as e:
        log("error: %s" % e)
        log("last lines of %s:\n%s" % (logfile, log_tail(logfile)))
        status = 1
    finally:
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        if sock is not None:
            sock.close()
        stop_group(manage, "keystone-manage")
        stop_group(gunicorn, "gunicorn")
        if remove_dir:
            shutil.rmtree(work, ignore_errors=True)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            # Keep the interpreter from complaining at exit about stdout.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status


if __name__ == "__main__":
    sys.exit(main())
