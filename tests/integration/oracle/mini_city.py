#!/usr/bin/env python3
"""A small seeded city for the segmenter integration test, written both as
ground truth (full birth dates, CSV) and as what the cloud sees
(resident.abstracted.v1 / destinations.v1 JSON lines for osh-ctl).
Stands in for tools/gen-residents + extractor + anonymizer until those land.

usage: mini_city.py SEED N OUTDIR
Attribute positions are read from schemas/dictionary.tsv (OSH_SOURCE_DIR)."""
import csv, datetime, json, os, random, sys

seed, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
src = os.environ.get("OSH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
pos = {}
for line in open(os.path.join(src, "schemas/dictionary.tsv"), encoding="utf-8"):
    if line.startswith(("#", "@")) or not line.strip():
        continue
    name, typ, p, _ = line.rstrip("\n").split("\t")
    if typ != "field":
        pos[name] = (typ, int(p))
rng = random.Random(seed)
FLAGS = ["nhi", "child_allowance", "tax_previous", "public_assistance",
         "child_rearing_allowance", "ext_01", "ext_02", "ext_03"]
# town codes as tools/gen-residents writes them (address code digits 6-10:
# town 1..40, then 丁目 1..5); LANDSLIDE are the seed campaign's hillside towns
LANDSLIDE = [(12105, 4), (12105, 6), (12105, 7), (12104, 6), (12104, 8)]
CATS = ["childcare", "health_welfare", "safety_disaster", "single_parent"]
EXTREME_AGE = 100  # anonymizer removes birth dates at or above this age (2017-03-15)

def rand_date(lo, hi):
    return lo + datetime.timedelta(days=rng.randrange((hi - lo).days + 1))

rows, abstracted, dests, excluded = [], [], [], []
for i in range(n):
    uid = "U%05d" % i
    birth = rand_date(datetime.date(1910, 1, 1), datetime.date(2000, 12, 31))
    kids = []
    if rng.random() < 0.6:
        for _ in range(rng.choice([1, 1, 2])):
            # bias toward the 9-year-olds and 18-month-olds the seeds target
            c = rng.choice([(datetime.date(2007, 9, 1), datetime.date(2008, 5, 31)),
                            (datetime.date(2015, 6, 1), datetime.date(2015, 11, 30)),
                            (datetime.date(2002, 1, 1), datetime.date(2017, 3, 10))])
            kids.append(rand_date(*c))
    f = {k: int(rng.random() < 0.5) for k in FLAGS}
    if rng.random() < 0.15:
        ward, t = rng.choice(LANDSLIDE)
    else:
        ward, t = rng.choice([12101, 12101, 12101, 12102, 12103, 12104, 12105, 12106]), rng.randint(1, 40)
    town = t * 100 + rng.randint(1, 5)
    removed = (datetime.date(2017, 3, 15).year - birth.year) >= EXTREME_AGE + 1
    r = {"user_id": uid, "birth": birth.isoformat(), "birth_removed": int(removed),
         "child1": kids[0].isoformat() if kids else "", "child2": kids[1].isoformat() if len(kids) > 1 else "",
         "ward": ward, "town": town}
    r.update(f)
    # destinations: 10% none, 5% withdrawn, the rest LINE/EMAIL with some categories
    roll = rng.random()
    r["dest_channel"] = "" if roll < 0.10 else ("LINE" if rng.random() < 0.8 else "EMAIL")
    r["dest_status"] = "WITHDRAWN" if 0.10 <= roll < 0.15 else "ACTIVE"
    r["categories"] = "|".join(c for c in CATS if rng.random() < 0.7)
    r["excluded"] = int(rng.random() < 0.02)
    rows.append(r)
    # osh-ctl's JSON reader refuses \u0000, so every byte of the bitset
    # carries one bit no seed campaign reads (spouse, hh_age_*,
    # tax_before_previous, ext_10), and the all-zero tail is cut off
    flags = bytearray([1] * 13 + [1, 0x80])
    vals = [0] * 34
    for k in FLAGS:
        if f[k]:
            flags[pos[k][1] // 8] |= 1 << (pos[k][1] % 8)
    vals[pos["birth_ym"][1]] = 0 if removed else birth.year * 100 + birth.month
    for j, k in enumerate(kids[:3]):
        vals[pos["spare_%02d" % (j + 1)][1]] = k.year * 100 + k.month
    vals[pos["municipality_code"][1]] = ward
    vals[pos["town_code"][1]] = town
    abstracted.append({"user_id": uid, "batch_id": "B-IT-1", "reference_date": 17240,
                       "layout_version": 1, "flags": flags.decode("latin-1"), "values": vals})
    if r["dest_channel"]:
        dests.append({"user_id": uid, "channel": r["dest_channel"], "account_id": "acct-" + uid,
                      "categories": r["categories"].split("|") if r["categories"] else [],
                      "status": r["dest_status"], "priority": 0, "updated_at": 0, "source": "it"})
    if r["excluded"]:
        excluded.append(uid)

with open(os.path.join(out, "truth.csv"), "w", newline="") as fp:
    w = csv.DictWriter(fp, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
with open(os.path.join(out, "abstracted.jsonl"), "w") as fp:
    for a in abstracted:
        fp.write(json.dumps(a) + "\n")
with open(os.path.join(out, "destinations.jsonl"), "w") as fp:
    for d in dests:
        fp.write(json.dumps(d, ensure_ascii=False) + "\n")
with open(os.path.join(out, "excluded.txt"), "w") as fp:
    fp.write("".join(u + "\n" for u in excluded))
