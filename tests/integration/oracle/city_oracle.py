#!/usr/bin/env python3
"""Independent oracle for the nine seed campaigns over a tools/gen-residents
city: reads its ground truth (truth.tsv, one row per consenting applicant,
full birth dates, children's birth year-months) and computes what the
segmenter must answer after extractor -> anonymizer -> segmenter.

Shares no code with the segmenter. The campaigns are Python predicates over
real dates; certain/possible come from brute force over every day the cloud
cannot tell apart (each day of the birth month; for children, each day of
each child's month: "some child matches" holds for every combination exactly
when one child matches on all its days). Rules taken from the anonymizer's
rule file, not its code: birth year-month removed at 100 or older on the
reference date (then unknown: possible), children = the eldest three.

It also writes the staff-side inputs the test feeds in, derived here from
the truth by fixed rules: destinations.jsonl (residents with a registered
利用者ID; channel, status and categories from the applicant's 分野 choice)
and excluded.txt (protected persons). Residents without a registered id get
an HMAC id in the anonymizer and have no destination.

usage: city_oracle.py TRUTH.tsv SEND_DATE(YYYY-MM-DD) OUTDIR
prints: campaign certain possible excluded no_destination opt_out recipients"""
import calendar, datetime, json, os, sys

truth, send, out = sys.argv[1], datetime.date.fromisoformat(sys.argv[2]), sys.argv[3]
EXTREME_AGE = 100
CATS = ["childcare", "single_parent", "health_welfare", "safety_disaster"]  # 分野 01..04
LANDSLIDE = {(12105, 4), (12105, 6), (12105, 7), (12104, 6), (12104, 8)}


def years(b, d):
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


def months(b, d):
    return (d.year - b.year) * 12 + d.month - b.month - (d.day < b.day)


def days_of(y, m):
    return [datetime.date(y, m, x) for x in range(1, calendar.monthrange(y, m)[1] + 1)]


def tri(values):
    """'T' if every value holds, 'M' if some, 'F' if none."""
    s = set(values)
    return "T" if s == {True} else "M" if True in s else "F"

def own_age_tri(r, lo, hi):
    if r["birth_removed"]:
        return "M"
    b = r["birth"]
    return tri(lo <= years(d, send) <= hi for d in days_of(b.year, b.month))

def kids_tri(r, f):
    per = [tri(f(d) for d in days_of(y, m)) for y, m in r["kids"]]
    return "T" if "T" in per else "M" if "M" in per else "F"


def kids_born_ago(r, n):
    """Table 40's condition: some child born in the year-month n months before the send month
    (exact on year-months, so never possible)."""
    return B(any((send.year - y) * 12 + send.month - m == n for y, m in r["kids"]))

def AND(*xs):
    return "F" if "F" in xs else "M" if "M" in xs else "T"

def B(x):
    return "T" if x else "F"

# name -> (category, three-valued predicate)
C = {
    "01-child-benefit-guidance": ("childcare", lambda r: B(r["child_allowance"] and r["tax_previous"] and not r["public_assistance"])),
    "02-child-benefit-reminder": ("childcare", lambda r: B(r["child_allowance"] and r["tax_previous"] and not r["public_assistance"] and not r["ext_01"])),
    "03-single-parent-support": ("single_parent", lambda r: B(r["child_rearing_allowance"])),
    "04-landslide-preparedness": ("safety_disaster", lambda r: B((r["ward"], r["town"] // 100) in LANDSLIDE)),
    "05-infant-checkup-18m": ("childcare", lambda r: AND(B(r["ward"] == 12101), kids_born_ago(r, 18))),
    "06-infant-checkup-18m-reminder": ("childcare", lambda r: AND(B(r["ward"] == 12101 and not r["ext_02"]), kids_born_ago(r, 18))),
    "07-specific-health-checkup": ("health_welfare", lambda r: AND(B(r["nhi"]), own_age_tri(r, 40, 74))),
    "08-specific-health-checkup-reminder": ("health_welfare", lambda r: AND(B(r["nhi"] and not r["ext_03"]), own_age_tri(r, 40, 74))),
    "09-japanese-encephalitis-2nd": ("childcare", lambda r: kids_born_ago(r, 108)),
    # not a seed campaign: the day-precise condition staff may still write
    "10-staff-child-age-months": ("childcare", lambda r: AND(B(r["ward"] == 12101), kids_tri(r, lambda d: 18 <= months(d, send) <= 24))),
}

rows = []
for line in open(truth, encoding="utf-8"):
    if line.startswith("#"):
        continue
    f = line.rstrip("\n").split("\t")
    birth = datetime.date(int(f[3][:4]), int(f[3][4:6]), int(f[3][6:8]))
    kids = [] if f[19] == "-" else [(int(k[:4]), int(k[4:])) for k in f[19].split(",")]
    r = {"atena": f[0], "uid": None if f[1] == "-" else f[1], "birth": birth,
         "birth_removed": years(birth, send) >= EXTREME_AGE, "ward": int(f[4]), "town": int(f[5]),
         "kids": kids[:3], "cats": int(f[20])}
    for i, k in enumerate(["tax_current", "tax_previous", "tax_before_previous", "nhi", "late_elderly",
                           "child_allowance", "child_rearing_allowance", "public_assistance",
                           "ext_01", "ext_02", "ext_03"]):
        r[k] = f[6 + i] == "1"
    rows.append(r)

# staff-side inputs, by fixed rules over the registered ids in file order
dests, excluded = {}, set()
registered = [r for r in rows if r["uid"]]
for i, r in enumerate(registered):
    if i % 50 == 7:
        excluded.add(r["uid"])
    if i % 10 == 3:
        continue  # applied, but never registered a destination
    dests[r["uid"]] = {"user_id": r["uid"], "channel": "EMAIL" if i % 4 == 1 else "LINE",
                       "account_id": "acct-" + r["uid"],
                       "categories": [c for b, c in enumerate(CATS) if r["cats"] >> b & 1],
                       "status": "WITHDRAWN" if i % 20 == 11 else "ACTIVE",
                       "priority": 0, "updated_at": 0, "source": "it"}
with open(os.path.join(out, "destinations.jsonl"), "w") as fp:
    for d in dests.values():
        fp.write(json.dumps(d) + "\n")
with open(os.path.join(out, "excluded.txt"), "w") as fp:
    fp.write("".join(u + "\n" for u in sorted(excluded)))

for name, (cat, pred) in C.items():
    n = dict(certain=0, possible=0, excluded=0, no_destination=0, opt_out=0, recipients=0)
    for r in rows:
        t = pred(r)
        n["certain"] += t == "T"
        n["possible"] += t == "M"
        if t != "T":  # seed campaigns send to certain targets only
            continue
        d = dests.get(r["uid"]) if r["uid"] else None
        if r["uid"] in excluded:
            n["excluded"] += 1
        elif not d:
            n["no_destination"] += 1
        elif d["status"] != "ACTIVE" or cat not in d["categories"]:
            n["opt_out"] += 1
        else:
            n["recipients"] += 1
    print(name, *(n[k] for k in ("certain", "possible", "excluded", "no_destination", "opt_out", "recipients")))
