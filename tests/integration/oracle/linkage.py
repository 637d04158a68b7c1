#!/usr/bin/env python3
"""Linkage attack on the cloud copy (issue 13, docs/privacy.md): an attacker
in the cloud knows a resident's full birth date, sex and full address (and,
with --children, the birth dates of the children in the household) and
counts the abstracted records consistent with that knowledge. Shares no code
with the anonymizer: generalised values are read as the schema documents
them (ranges: position, lo, hi; a value of 0 with no range is absent).

usage: linkage.py DICTIONARY.tsv TRUTH.tsv ABSTRACTED.jsonl REF(YYYYMMDD) K [--children]
  ABSTRACTED.jsonl: osh-ctl consume output of resident.abstracted.v1
prints: applicants, the smallest and median consistent counts, how many are
below K; exits 1 if any applicant has 1..K-1 consistent records (0 means the
record was suppressed and nothing in the cloud matches)."""
import collections, json, statistics, sys

dict_tsv, truth_tsv, abs_jsonl, ref, k = sys.argv[1:6]
ref, k = int(ref), int(k)
children = "--children" in sys.argv[6:]
EXTREME_AGE = 100  # rules extreme_age: the birth year-month is absent at 100+

pos = {}
for line in open(dict_tsv, encoding="utf-8"):
    if line.startswith(("#", "@")) or not line.strip():
        continue
    name, typ, p = line.split("\t")[:3]
    if typ != "flag" and typ != "field":
        pos[name] = int(p)
P_BIRTH, P_SEX, P_WARD, P_TOWN = pos["birth_ym"], pos["sex"], pos["municipality_code"], pos["town_code"]
P_KIDS = [pos["spare_01"], pos["spare_02"], pos["spare_03"]]


def cell(vals, ranges, p):
    """(lo, hi) of what the record says about position p; (0, 0) = absent."""
    if p in ranges:
        return ranges[p]
    v = vals[p] if p < len(vals) else 0
    return (v, v)


records = []
for line in open(abs_jsonl, encoding="utf-8"):
    v = json.loads(line)["value"]
    vals, rr = v["values"], v.get("ranges") or []
    ranges = {rr[i]: (rr[i + 1], rr[i + 2]) for i in range(0, len(rr), 3)}
    records.append((v["user_id"], {p: cell(vals, ranges, p) for p in [P_BIRTH, P_SEX, P_WARD, P_TOWN] + P_KIDS}))
by_sex = collections.defaultdict(list)  # most records have an exact sex: a first cut
for uid, c in records:
    lo, hi = c[P_SEX]
    for s in (1, 2, 3):
        if lo <= s <= hi:
            by_sex[s].append(c)


def holds(c, p, v):
    lo, hi = c[p]
    return lo <= v <= hi


def consistent(c, t):
    if t["old"]:  # birth year-month removed at the reference date: absent, or a range holding it
        if c[P_BIRTH] != (0, 0) and not holds(c, P_BIRTH, t["ym"]):
            return False
    elif not holds(c, P_BIRTH, t["ym"]):
        return False
    if not (holds(c, P_WARD, t["ward"]) and holds(c, P_TOWN, t["town"])):
        return False
    if children:
        for i, p in enumerate(P_KIDS):
            want = t["kids"][i] if i < len(t["kids"]) else 0
            if not holds(c, p, want):
                return False
    return True


counts, bad = [], []
for line in open(truth_tsv, encoding="utf-8"):
    if line.startswith("#"):
        continue
    f = line.rstrip("\n").split("\t")
    birth = f[3]
    ym = int(birth[:6])
    kids = [] if f[19] == "-" else [int(x) for x in f[19].split(",")][:3]
    # the reference date is the same for all; age from the date alone
    t = {"uid": f[1], "sex": int(f[2]), "ym": ym, "ward": int(f[4]), "town": int(f[5]), "kids": kids,
         "old": (ref - int(birth)) // 10000 >= EXTREME_AGE}
    n = sum(1 for c in by_sex[t["sex"]] if consistent(c, t))
    counts.append(n)
    if 0 < n < k:
        bad.append((t["uid"], n))

counts.sort()
print(f"applicants {len(counts)} records {len(records)} min {counts[0] if counts else 0} "
      f"median {statistics.median(counts) if counts else 0} below_k {len(bad)}"
      f"{' (with children)' if children else ''}")
for uid, n in bad[:10]:
    print(f"  applicant {uid}: {n} consistent record(s)")
sys.exit(1 if bad else 0)
