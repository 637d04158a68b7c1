#!/usr/bin/env python3
"""Ground truth of the nine seed campaigns for Table 52 (tools/privacy-table):
the count before abstraction, computed from gen-residents' truth.tsv (full
birth dates, every child, the real address), as the seed's "before" column
(000:L6924) counts it. Shares no code with the services.

usage: truth.py TRUTH.tsv SEND_DATE(YYYY-MM-DD)
prints: campaign before  (the landslide row: applicants living in households
really at risk; truth_summary.tsv counts the households)"""
import datetime, sys

truth, send = sys.argv[1], datetime.date.fromisoformat(sys.argv[2])
CHUO = 12101


def years(b, d):
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


def born_ago(kids, n):
    """Some child born in the year-month n months before the send month (Table 40)."""
    return any((send.year - y) * 12 + send.month - m == n for y, m in kids)


C = {
    "01-child-benefit-guidance": lambda r: r["ca"] and r["taxp"] and not r["pa"],
    "02-child-benefit-reminder": lambda r: r["ca"] and r["taxp"] and not r["pa"] and not r["e1"],
    "03-single-parent-support": lambda r: r["cr"],
    "04-landslide-preparedness": lambda r: r["risk"],
    "05-infant-checkup-18m": lambda r: r["ward"] == CHUO and born_ago(r["kids"], 18),
    "06-infant-checkup-18m-reminder": lambda r: r["ward"] == CHUO and not r["e2"] and born_ago(r["kids"], 18),
    "07-specific-health-checkup": lambda r: r["nhi"] and 40 <= years(r["birth"], send) <= 74,
    "08-specific-health-checkup-reminder": lambda r: r["nhi"] and not r["e3"] and 40 <= years(r["birth"], send) <= 74,
    "09-japanese-encephalitis-2nd": lambda r: born_ago(r["kids"], 108),
}

rows = []
for line in open(truth, encoding="utf-8"):
    if line.startswith("#"):
        continue
    f = line.rstrip("\n").split("\t")
    b = f[3]
    rows.append({
        "birth": datetime.date(int(b[:4]), int(b[4:6]), int(b[6:8])), "ward": int(f[4]),
        "town": int(f[5]), "taxp": f[7] == "1", "nhi": f[9] == "1", "ca": f[11] == "1",
        "cr": f[12] == "1", "pa": f[13] == "1", "e1": f[14] == "1", "e2": f[15] == "1",
        "e3": f[16] == "1",
        "kids": [] if f[19] == "-" else [(int(k[:4]), int(k[4:])) for k in f[19].split(",")],
        "risk": len(f) > 21 and f[21] == "1",
    })
for name, pred in C.items():
    print(name, sum(1 for r in rows if pred(r)))
