#!/usr/bin/env bash
# pii_scan.sh: finds personal data from the input anywhere in what a
# segment keeps or logs. Reusable by any test (anonymizer, relay, cloud).
#
#   pii_scan.sh --forbidden FILE [--topic BOOTSTRAP TOPIC]... [FILE]...
#
# FILE of --forbidden: one forbidden string per line (names, 宛名番号, full
# birth dates in every written form, full addresses and address codes, as
# taken from the input). Blank lines are ignored; strings shorter than 4
# bytes are refused (they would match by accident).
# --topic: every record of TOPIC (all partitions, from the beginning) is
# scanned as raw bytes: key, header names and values, and value (Avro
# strings are plain UTF-8 inside the binary). Also as decoded JSON when
# osh-ctl is at hand, so escaped forms are covered too.
# FILE: any text or binary file (service logs, HTTP bodies, dumps).
#
# Exit 0: nothing found. Exit 1: a hit; prints where, and which line of the
# forbidden file matched (never the personal data itself). Exit 2: usage.
set -euo pipefail

forbidden= targets=() topics=()
OSH_BIN=${OSH_BIN:-${OSH_BUILD_DIR:-build}/bin}
while (($#)); do
        case $1 in
        --forbidden) forbidden=$2; shift 2 ;;
        --topic) topics+=("$2" "$3"); shift 3 ;;
        -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
        esac
done
[[ -n $forbidden && -r $forbidden ]] || { echo "pii_scan: --forbidden FILE is required" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pii-scan.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Clean list: no blank lines; refuse too-short needles.
awk 'length($0) > 0' "$forbidden" >"$work/needles"
if awk 'length($0) < 4 { bad = 1 } END { exit !bad }' "$work/needles"; then
        echo "pii_scan: forbidden strings must be at least 4 bytes" >&2
        exit 2
fi
[[ -s $work/needles ]] || { echo "pii_scan: empty forbidden list" >&2; exit 2; }

i=0
while ((i < ${#topics[@]})); do
        bs=${topics[i]} t=${topics[i + 1]}
        i=$((i + 2))
        out="$work/topic.$t.raw"
        timeout 60 kcat -C -q -b "$bs" -t "$t" -o beginning -e \
                -f 'KEY %k HEADERS %h VALUE %s\n' >"$out" 2>"$work/kcat.err" ||
                { echo "pii_scan: cannot read $t at $bs: $(head -c 300 "$work/kcat.err")" >&2; exit 2; }
        targets+=("$out")
        if [[ -x $OSH_BIN/osh-ctl ]]; then
                "$OSH_BIN/osh-ctl" consume --bootstrap "$bs" --topic "$t" --timeout 30s \
                        >"$work/topic.$t.json" 2>/dev/null || true
                targets+=("$work/topic.$t.json")
        fi
done
((${#targets[@]})) || { echo "pii_scan: nothing to scan" >&2; exit 2; }

hits=0
for f in "${targets[@]}"; do
        [[ -r $f ]] || { echo "pii_scan: cannot read $f" >&2; exit 2; }
        # -a: binary as text; -F: fixed strings (Aho-Corasick: fast for many needles).
        LC_ALL=C grep -a -F -o -f "$work/needles" "$f" | sort -u >"$work/found" || true
        [[ -s $work/found ]] || continue
        n=$(wc -l <"$work/found")
        hits=$((hits + n))
        # Name the needle by its line in the forbidden file, never by content.
        LC_ALL=C awk -v f="${f##*/}" 'NR == FNR { line[$0] = NR; next }
                FNR <= 20 { printf "pii_scan: HIT in %s: forbidden line %s (%d bytes)\n", f,
                            ($0 in line) ? line[$0] : "?", length($0) }' \
                "$work/needles" "$work/found"
        ((n <= 20)) || echo "pii_scan: ... and $((n - 20)) more in ${f##*/}"
done
if ((hits)); then
        echo "pii_scan: $hits forbidden string(s) found" >&2
        exit 1
fi
echo "pii_scan: clean ($(wc -l <"$work/needles") forbidden strings, ${#targets[@]} target(s))"
