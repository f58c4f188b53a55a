#!/usr/bin/env python3
"""Fills a running Cairn with a mixed history of events, for replay and verify benchmarks.

    scripts/make-history.py http://127.0.0.1:8888 --rounds 20000 --threads 4

Each round (per thread, bounded): post 5 messages, claim up to 5, delete those under the
claim one by one, and every 4th round release a claim instead. Standard library only.
"""
import argparse
import http.client
import json
import threading
import urllib.parse
import uuid


def worker(url, rounds, index, totals):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    headers = {"Client-ID": str(uuid.uuid4()), "X-Project-ID": "history-%d" % (index % 2),
               "Content-Type": "application/json"}
    queue = "/v2/queues/q%d" % index

    def call(method, path, body=None):
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        r = conn.getresponse()
        data = r.read()
        return r.status, r.getheader("Location"), data

    events = 0
    for i in range(rounds):
        msgs = [{"body": {"round": i, "n": n}, "ttl": 3600} for n in range(5)]
        call("POST", queue + "/messages", {"messages": msgs})
        status, location, data = call("POST", queue + "/claims?limit=5", {"ttl": 60, "grace": 60})
        events += 2
        if status != 201:
            continue
        claim = location.rsplit("/", 1)[1]
        if i % 4 == 3:
            call("DELETE", queue + "/claims/" + claim)
            events += 1
            continue
        for m in json.loads(data)["messages"]:
            call("DELETE", m["href"])
            events += 1
    totals[index] = events


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--rounds", type=int, default=5000, help="rounds per thread")
    p.add_argument("--threads", type=int, default=4)
    a = p.parse_args()
    totals = [0] * a.threads
    threads = [threading.Thread(target=worker, args=(a.url, a.rounds, i, totals))
               for i in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("about %d events written" % sum(totals))


if __name__ == "__main__":
    main()
