#!/usr/bin/env python3
"""Independent oracle for the on-premises path (gen-residents -> extractor ->
relay -> anonymizer). Shares no code with the services: it reads the
generator's input CSVs and ground truth, the attribute dictionary and what
`osh-ctl consume` printed, and applies the rule file's rules as written
(rules-v1.conf), not as coded.

  onprem_oracle.py forbidden CITY OUT
      every personal item of the input CSVs, one per line, for pii_scan.sh:
      names (shimei, shimei_kana, and their parts of 2+ characters), every
      宛名番号 and 世帯番号, birth dates as YYYYMMDD, YYYY-MM-DD and era form,
      full address texts and 30-digit address codes. 外字 (user-defined CP932
      area) appear as written (PUA), as U+FFFD and as 〓, as the extractor
      may replace them.

  onprem_oracle.py check CITY DICTIONARY KEYHEX ABSTRACTED.jsonl REPORT.json
      joins every abstracted record to truth.tsv by 利用者ID (the registered
      id, else HMAC-SHA-256(宛名番号) truncated to 32 hex digits) and checks
      sex, birth year-month (0 at 100 or older; YYYY00 when generalised),
      municipality/town and every flag the truth knows; prints per-flag
      counts (truth over released records vs abstracted) and the extreme-age
      count. Exit 1 with the differences on any mismatch."""
import csv, datetime, hashlib, hmac, json, os, sys

ERA = {"M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}
EXTREME_AGE = 100  # rules-v1.conf extreme_age
FLAGS = ["tax_current", "tax_previous", "tax_before_previous", "nhi", "late_elderly",
         "child_allowance", "child_rearing_allowance", "public_assistance",
         "ext_01", "ext_02", "ext_03"]


def rows(city, name):
    with open(os.path.join(city, name), encoding=encoding(city), newline="") as f:
        yield from csv.DictReader(f)


def encoding(city):
    with open(os.path.join(city, "MANIFEST.tsv"), encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            if k == "encoding":
                return {"cp932": "cp932", "utf8-bom": "utf-8-sig"}.get(v, "utf-8-sig")
    return "utf-8-sig"


def western(d):
    """YYYYMMDD from YYYYMMDD or era form (S251203)."""
    if d[:1] in ERA:
        return "%04d%s" % (ERA[d[0]] + int(d[1:3]), d[3:7])
    return d


def variants(s):
    """s as written, and with every 外字 replaced the ways the extractor may."""
    out = {s}
    if any(0xE000 <= ord(c) <= 0xF8FF for c in s):
        for rep in ("\ufffd", "\u3013"):
            out.add("".join(rep if 0xE000 <= ord(c) <= 0xF8FF else c for c in s))
    return out


def name_parts(s):
    parts = []
    for p in s.replace("\u3000", " ").split():
        cur = ""
        for c in p + "\ue000":
            if 0xE000 <= ord(c) <= 0xF8FF:
                if len(cur) >= 2:
                    parts.append(cur)
                cur = ""
            else:
                cur += c
    return parts


def forbidden(city, out):
    needles = set()
    for r in rows(city, "JUMIN.csv"):
        for k in ("shimei", "shimei_kana"):
            needles |= variants(r[k])
            needles |= set(name_parts(r[k]))
        needles |= {r["atena_no"], r["setai_no"], r["jusho_code"]}
        needles |= variants(r["jusho"])
        if r["seinengappi"]:
            w = western(r["seinengappi"])
            needles |= {w, "%s-%s-%s" % (w[:4], w[4:6], w[6:]), r["seinengappi"]}
            if r["seinengappi"][:1] not in ERA:  # also the era form it could be written in
                needles.add(to_era(w))
    for name in sorted(os.listdir(city)):  # 宛名番号 in every file, orphans too
        if name.endswith(".csv"):
            for r in rows(city, name):
                needles |= {r[k] for k in ("atena_no", "setainushi_atena_no") if r.get(k)}
    needles = sorted(n for n in needles if len(n.encode()) >= 4)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(needles) + "\n")
    print("forbidden strings: %d" % len(needles))


def to_era(w):
    for e, start in (("R", "20190501"), ("H", "19890108"), ("S", "19261225"),
                     ("T", "19120730"), ("M", "00000000")):
        if w >= start:
            return "%s%02d%s" % (e, int(w[:4]) - ERA[e], w[4:])


def dictionary(path):
    d = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or line.startswith("@") or not line.strip():
                continue
            name, typ, pos = line.split("\t")[:3]
            d[name] = (typ, pos)
    return d


def reference(city):
    with open(os.path.join(city, "MANIFEST.tsv"), encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            if k == "reference_date":
                return datetime.date(int(v[:4]), int(v[4:6]), int(v[6:8]))
    sys.exit("no reference_date in MANIFEST.tsv")


def age(birth, ref):
    b = datetime.date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
    return ref.year - b.year - ((ref.month, ref.day) < (b.month, b.day))


def check(city, dict_path, keyhex, abs_path, report_path):
    d = dictionary(dict_path)
    key = bytes.fromhex(open(keyhex).read().strip())
    ref = reference(city)
    truth = {}
    with open(os.path.join(city, "truth.tsv"), encoding="utf-8") as f:
        head = f.readline().lstrip("#").rstrip("\n").split("\t")
        for line in f:
            t = dict(zip(head, line.rstrip("\n").split("\t")))
            uid = t["user_id"] if t["user_id"] not in ("", "-") else \
                hmac.new(key, t["atena_no"].encode(), hashlib.sha256).hexdigest()[:32]
            truth[uid] = t
    report = json.load(open(report_path))
    bad, got, want, seen = [], {f: 0 for f in FLAGS}, {f: 0 for f in FLAGS}, set()

    def flag(rec, name):
        pos = int(d[name][1])
        return (rec["flags"][pos // 8] >> (pos % 8)) & 1

    def val(rec, name):
        return rec["values"][int(d[name][1])]

    for line in open(abs_path, encoding="utf-8"):
        m = json.loads(line)
        v = m["value"]
        v["flags"] = v["flags"].encode("latin-1")
        uid = v["user_id"]
        if m["key"] != uid or uid not in truth or uid in seen:
            bad.append("record %s: key, unknown or repeated 利用者ID" % uid[:6])
            continue
        seen.add(uid)
        t = truth[uid]
        ym = int(t["birth"][:6]) if age(t["birth"], ref) < EXTREME_AGE else 0
        exp = {"sex": int(t["sex"]), "municipality_code": int(t["municipality"]),
               "town_code": int(t["town"])}
        for k, x in exp.items():
            if val(v, k) != x:
                bad.append("%s: %s %s != %s" % (uid[:6], k, val(v, k), x))
        if val(v, "birth_ym") not in (ym, ym - ym % 100):
            bad.append("%s: birth_ym %s != %s" % (uid[:6], val(v, "birth_ym"), ym))
        for fl in FLAGS:
            want[fl] += int(t[fl])
            got[fl] += flag(v, fl)
            if flag(v, fl) != int(t[fl]):
                bad.append("%s: %s %d != %s" % (uid[:6], fl, flag(v, fl), t[fl]))
    extreme = sum(age(t["birth"], ref) >= EXTREME_AGE for t in truth.values())
    for fl in FLAGS:
        print("flag %-24s truth %5d abstracted %5d" % (fl, want[fl], got[fl]))
    print("records truth %d abstracted %d suppressed %d" % (len(truth), len(seen),
                                                             report["suppressed"]))
    print("extreme truth %d report %d" % (extreme, report["extreme_ages_removed"]))
    if len(seen) != len(truth) - report["suppressed"]:
        bad.append("abstracted %d != consenting %d - suppressed %d" %
                   (len(seen), len(truth), report["suppressed"]))
    if extreme != report["extreme_ages_removed"]:
        bad.append("extreme ages: truth %d, report %d" % (extreme, report["extreme_ages_removed"]))
    if bad:
        print("MISMATCH (%d):\n  %s" % (len(bad), "\n  ".join(bad[:20])))
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "forbidden":
        forbidden(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7 and sys.argv[1] == "check":
        check(*sys.argv[2:])
    else:
        sys.exit(__doc__)
