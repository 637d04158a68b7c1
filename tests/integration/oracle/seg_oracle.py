#!/usr/bin/env python3
"""Independent oracle for the nine seed campaigns (and one day-precise staff campaign, 10): computes, from the ground
truth (full birth dates), how many residents each campaign targets certainly
and possibly given that the cloud only knows birth year-month, plus the exact
count and the suppression split. Shares no code with the segmenter: the
conditions are written here as Python predicates over real dates, and the
certain/possible split is found by brute force over every possible day of
each birth month (not by the segmenter's closed form).

usage: seg_oracle.py TRUTH.csv SEND_DATE(YYYY-MM-DD) [--breakdown]
prints: campaign certain possible exact excluded no_destination opt_out recipients
--breakdown prints instead, per campaign, one JSON line with certain and
possible by destination channel (NONE: no destination) and by ward code:
{"campaign": ..., "by_channel": {"LINE": [c, p], ...}, "by_ward": {"12101": [c, p], ...}}
with a row for every channel and ward the city has, as the segmenter
answers with campaign.results.v1's by_channel / by_ward when nothing is
withheld (minimum audience 1)."""
import calendar, csv, datetime, itertools, json, sys

truth, send = sys.argv[1], datetime.date.fromisoformat(sys.argv[2])
breakdown = "--breakdown" in sys.argv[3:]
# 緑区 土気町・平川町・大野台, 若葉区 小倉台・加曽利町 (town = address code digits 6-8)
LANDSLIDE_TOWNS = {(12105, 4), (12105, 6), (12105, 7), (12104, 6), (12104, 8)}

def years(b, d):
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))

def months(b, d):
    return (d.year - b.year) * 12 + d.month - b.month - (d.day < b.day)

def born_ago(c, n):
    """Table 40: born in the year-month n months before the send month."""
    return (send.year - c.year) * 12 + send.month - c.month == n

def any_child(kids, f):
    return any(f(k) for k in kids)

# name -> (category, predicate(resident, birth, kids))
C = {
    "01-child-benefit-guidance": ("childcare", lambda r, b, k: r["child_allowance"] and r["tax_previous"] and not r["public_assistance"]),
    "02-child-benefit-reminder": ("childcare", lambda r, b, k: r["child_allowance"] and r["tax_previous"] and not r["public_assistance"] and not r["ext_01"]),
    "03-single-parent-support": ("single_parent", lambda r, b, k: r["child_rearing_allowance"]),
    "04-landslide-preparedness": ("safety_disaster", lambda r, b, k: (r["ward"], r["town"] // 100) in LANDSLIDE_TOWNS),
    "05-infant-checkup-18m": ("childcare", lambda r, b, k: r["ward"] == 12101 and any_child(k, lambda c: born_ago(c, 18))),
    "06-infant-checkup-18m-reminder": ("childcare", lambda r, b, k: r["ward"] == 12101 and not r["ext_02"] and any_child(k, lambda c: born_ago(c, 18))),
    "07-specific-health-checkup": ("health_welfare", lambda r, b, k: r["nhi"] and b is not None and 40 <= years(b, send) <= 74),
    "08-specific-health-checkup-reminder": ("health_welfare", lambda r, b, k: r["nhi"] and not r["ext_03"] and b is not None and 40 <= years(b, send) <= 74),
    "09-japanese-encephalitis-2nd": ("childcare", lambda r, b, k: any_child(k, lambda c: born_ago(c, 108))),
    # not a seed campaign: the day-precise condition staff may still write
    "10-staff-child-age-months": ("childcare", lambda r, b, k: r["ward"] == 12101 and any_child(k, lambda c: 18 <= months(c, send) <= 24)),
}

def month_days(d):
    return [d.replace(day=x) for x in range(1, calendar.monthrange(d.year, d.month)[1] + 1)]

rows = list(csv.DictReader(open(truth)))
for r in rows:
    for k in ("nhi", "child_allowance", "tax_previous", "public_assistance", "child_rearing_allowance",
              "ext_01", "ext_02", "ext_03", "ward", "town", "birth_removed", "excluded"):
        r[k] = int(r[k])

def channel(r):
    return r["dest_channel"] or "NONE"

for name, (cat, pred) in C.items():
    cnt = dict(certain=0, possible=0, exact=0, excluded=0, no_destination=0, opt_out=0, recipients=0)
    by_channel = {channel(r): [0, 0] for r in rows}
    by_ward = {str(r["ward"]): [0, 0] for r in rows}
    for r in rows:
        birth = datetime.date.fromisoformat(r["birth"])
        kids = [datetime.date.fromisoformat(r[c]) for c in ("child1", "child2") if r[c]]
        exact = bool(pred(r, birth, kids))
        # every date the cloud cannot tell apart from the truth; only the
        # dates a campaign reads are varied
        uses = "kids" if name[:2] in ("05", "06", "09", "10") else "birth" if name[:2] in ("07", "08") else ""
        if uses == "birth" and r["birth_removed"]:
            # a removed birth date could be any: the rest of the condition decides
            outcomes = {bool(pred(r, datetime.date(send.year - 50, 1, 1), kids)), False}
        elif uses == "birth":
            outcomes = {bool(pred(r, b, kids)) for b in month_days(birth)}
        elif uses == "kids":
            outcomes = {bool(pred(r, birth, list(ks))) for ks in itertools.product(*[month_days(k) for k in kids])}
        else:
            outcomes = {exact}
        certain = outcomes == {True}
        possible = True in outcomes and not certain
        cnt["exact"] += exact
        cnt["certain"] += certain
        cnt["possible"] += possible
        for group in (by_channel[channel(r)], by_ward[str(r["ward"])]):
            group[0] += certain
            group[1] += possible
        if not certain:  # seed campaigns send to certain targets only
            continue
        if r["excluded"]:
            cnt["excluded"] += 1
        elif not r["dest_channel"]:
            cnt["no_destination"] += 1
        elif r["dest_status"] != "ACTIVE" or cat not in r["categories"].split("|"):
            cnt["opt_out"] += 1
        else:
            cnt["recipients"] += 1
    if breakdown:
        print(json.dumps({"campaign": name, "by_channel": by_channel, "by_ward": by_ward}, sort_keys=True))
        continue
    print(name, *(cnt[k] for k in ("certain", "possible", "exact", "excluded", "no_destination", "opt_out", "recipients")))
