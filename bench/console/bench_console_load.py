#!/usr/bin/python3
"""Load for bench-console: S staff sessions previewing at once through the
console's HTTPS API. Each session signs in, then previews every seed
campaign's condition R times (round robin). Prints per-campaign and overall
median / p99 round-trip times (client-side, request sent -> answer read),
and the same of the console's own elapsed_ms (the part spent between the
console and the segmenter, without HTTPS and this client).

usage: bench_console_load.py URL CA PASSWORD SESSIONS ROUNDS CAMPAIGN.json..."""
import http.client, json, ssl, statistics, sys, threading, time, urllib.parse

url, ca, pw, sessions, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
camps = []
for f in sys.argv[6:]:
    c = json.load(open(f))
    camps.append((c["campaign_id"], c["condition"], c.get("send_at")))
u = urllib.parse.urlparse(url)
ctx = ssl.create_default_context(cafile=ca)
times = {c[0]: [] for c in camps}
server = []  # the console's own elapsed_ms (its request to the segmenter and back)
slow = []  # (round trip, console's share, seconds after the start, campaign)
errors = []
warm = []
lock = threading.Lock()
start = threading.Barrier(sessions)


def session(i):
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
    conn.request("POST", "/api/login", json.dumps({"user": "bench%02d" % i, "password": pw}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    body = json.loads(r.read())
    cookie = r.getheader("Set-Cookie").split(";")[0]
    hdr = {"Content-Type": "application/json", "X-CSRF-Token": body["csrf"], "Cookie": cookie}
    # one preview each before timing: the first answers wait for the
    # console's and the segmenter's consumers to be assigned (reported apart)
    t0 = time.perf_counter()
    conn.request("POST", "/api/preview", json.dumps({"condition": camps[0][1]}), hdr)
    conn.getresponse().read()
    with lock:
        warm.append((time.perf_counter() - t0) * 1000)
    start.wait()
    for k in range(rounds):
        for j in range(len(camps)):
            cid, cond, at = camps[(i + j) % len(camps)]
            t0 = time.perf_counter()
            conn.request("POST", "/api/preview", json.dumps({"condition": cond}), hdr)
            r = conn.getresponse()
            data = r.read()
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                if r.status != 200:
                    errors.append((r.status, data[:100]))
                else:
                    times[cid].append(dt)
                    server.append(json.loads(data)["elapsed_ms"])
                    slow.append((dt, server[-1], t0 - t_start, cid))


threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
t_start = time.perf_counter()
t0 = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.time() - t0


def p(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


allv = [x for v in times.values() for x in v]
print("%-40s %6s %8s %8s" % ("campaign", "n", "median", "p99"))
for cid, v in times.items():
    if v:
        print("%-40s %6d %6.1fms %6.1fms" % (cid, len(v), statistics.median(v), p(v, 0.99)))
if allv:
    print("%-40s %6d %6.1fms %6.1fms" % ("ALL", len(allv), statistics.median(allv), p(allv, 0.99)))
    print("targets: median <= 50 ms (%.2fx), p99 <= 150 ms (%.2fx); %d sessions, %.1f previews/s, %d errors"
          % (statistics.median(allv) / 50, p(allv, 0.99) / 150, sessions, len(allv) / wall, len(errors)))
if allv:
    # one machine-readable line for bench-console's summary over runs
    print("RUN median=%.1f p99=%.1f worst_campaign_p99=%.1f server_median=%.1f server_p99=%.1f rate=%.1f" % (
        statistics.median(allv), p(allv, 0.99), max(p(v, 0.99) for v in times.values() if v),
        statistics.median(server) if server else -1, p(server, 0.99) if server else -1, len(allv) / wall))
if server:
    print("inside the console (its elapsed_ms: Kafka to the segmenter and back): median %.1f ms, p99 %.1f ms"
          % (statistics.median(server), p(server, 0.99)))
# where the tail comes from: all at one moment (a stall) or spread out
for dt, srv, at, cid in sorted(slow, reverse=True)[:8]:
    print("slow: %6.1f ms (console %5.1f ms) sent %6.3f s after the start, %s" % (dt, srv, at, cid))
print("warm-up (first preview of each session, not above): max %.0f ms" % max(warm))
if errors:
    print("first error:", errors[0])
    sys.exit(1)
