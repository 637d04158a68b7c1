#!/usr/bin/env bash
# privacy-table: the seed's Table 52 (000:L6924) reproduced on a generated
# city, with the re-identification risk beside it (docs/privacy.md).
#
#   tools/privacy-table/privacy-table.sh [--residents N (973183)] [--seed S (1)]
#                                        [--k K (the default of rules-v2.conf)]
#
# For each of the nine seed campaigns (campaigns/, sent on the reference date
# 2017-03-15): the count before abstraction, from gen-residents' ground truth
# (tools/privacy-table/truth.py: full dates, every child, the real address;
# for landslide, the applicants in households really at risk), then the
# segmenter's certain / possible counts after the real extractor ->
# anonymizer -> segmenter path, at k = 1 (rules-v1.conf: Table 50 alone) and
# at the enforced k (rules-v2.conf). Each k runs on its own embedded broker.
# Then the privacy report of each run. Binaries from $OSH_BUILD_DIR (build/).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
residents=973183
seed=1
k=
while [ $# -gt 0 ]; do
        case $1 in
        --residents) residents=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --k) k=$2; shift 2 ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "privacy-table: unknown option $1" >&2; exit 2 ;;
        esac
done
build=${OSH_BUILD_DIR:-$ROOT/build}
[[ $build == /* ]] || build=$ROOT/$build
export OSH_BUILD_DIR=$build OSH_SOURCE_DIR=$ROOT
OSH_IT_NAME=privacy-table
. "$ROOT/tests/integration/lib/harness.sh"
OSH_IT_TIMEOUT=900
osh_it_begin
T=$OSH_IT_TMP
ctl=$OSH_BIN/osh-ctl
SEND_MS=1489503600000 # 2017-03-15 00:00 JST, the city's reference date

"$OSH_BIN/gen-residents" --out "$T/city" --residents "$residents" --seed "$seed" \
        --reference-date 20170315 >/dev/null 2>&1
want=$(awk '$1 == "consenting" {print $2}' "$T/city/truth_summary.tsv")
risk_hh=$(awk '$1 == "landslide_risk_households" {print $2}' "$T/city/truth_summary.tsv")
python3 "$ROOT/tools/privacy-table/truth.py" "$T/city/truth.tsv" 2017-03-15 >"$T/before.txt"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/hmac.key"

# run TAG RULES [ANON ARGS]: a fresh broker, the extractor, the anonymizer with
# RULES, the segmenter; the nine previews to $T/TAG.results, the report to
# $T/TAG.report
run() {
        local tag=$1 rules=$2 env=$T/$1.broker.env B
        shift 2
        osh_it_spawn "broker-$tag" osh-broker --single --env-file "$env"
        osh_it_wait_until 30 test -s "$env" || fail "broker $tag did not start"
        B=$(sed -n 's/^OSH_BOOTSTRAP_CORE=//p' "$env" | tr -d "'\"")
        "$OSH_BIN/extractor" --input "$T/city" --ledger "$T/$tag.ledger" \
                --kafka.bootstrap.servers="$B" >"$T/$tag.ext.out" 2>"$T/$tag.ext.log" ||
                fail "extractor failed: $(tail -3 "$T/$tag.ext.log")"
        osh_it_start_service "anon-$tag" anonymizer --kafka.bootstrap.servers="$B" \
                --anon.rules="$ROOT/services/anonymizer/rules/$rules" \
                --anon.hmac.key.file="$T/hmac.key" "$@"
        osh_it_start_service "seg-$tag" segmenter --kafka.bootstrap.servers="$B" \
                --state.dir="$T/$tag.state" --min.audience=1
        released() { grep -aq "batch .* released" "$(osh_it_log "anon-$tag")"; }
        osh_it_wait_until 600 released || fail "anonymizer $tag released nothing"
        swapped() { grep -aq "snapshot .*: [0-9]* residents" "$(osh_it_log "seg-$tag")"; }
        osh_it_wait_until 300 swapped || fail "segmenter $tag never took the batch"
        for f in "$ROOT"/campaigns/*.json; do
                jq -c --argjson t "$SEND_MS" '.send_at = $t | .min_audience = 1 |
                        .action = "PREVIEW"' "$f"
        done | "$ctl" produce --bootstrap "$B" --topic campaign.requests.v1 --key.field campaign_id
        "$ctl" consume --bootstrap "$B" --topic campaign.results.v1 --count 9 --timeout 120s |
                jq -c .value >"$T/$tag.results"
        "$ctl" consume --bootstrap "$B" --topic privacy.report.v1 --timeout 10s |
                jq -c .value | tail -1 >"$T/$tag.report"
        # "judged in X s", "judged (and START sent) in X s", ...
        sed -nE 's/.*batch .*[:,] judged[^0-9]* in ([0-9.]+) s.*/\1/p' "$(osh_it_log "anon-$tag")" \
                >"$T/$tag.judge"
        osh_it_stop_service "seg-$tag"
        osh_it_stop_service "anon-$tag"
        osh_it_stop_service "broker-$tag"
}
run k1 rules-v1.conf
if [[ -n $k ]]; then
        run kk rules-v2.conf --anon.k.floor="$k"
else
        run kk rules-v2.conf
fi
kk=$(jq .k_floor "$T/kk.report")

cell() { # TAG CAMPAIGN FIELD
        jq -r --arg id "seed-$2" "select(.campaign_id == \$id) | .$3" "$T/$1.results"
}
echo "Table 52 at $residents residents ($want consenting applicants, seed $seed), sent 2017-03-15"
printf '%-38s %9s | %9s %9s | %9s %9s\n' campaign before "k=1 cert" "k=1 poss" \
        "k=$kk cert" "k=$kk poss"
while read -r name before; do
        printf '%-38s %9s | %9s %9s | %9s %9s\n' "$name" "$before" \
                "$(cell k1 "$name" certain)" "$(cell k1 "$name" possible)" \
                "$(cell kk "$name" certain)" "$(cell kk "$name" possible)"
done <"$T/before.txt"
echo "landslide: $risk_hh households really at risk (all residents); before = applicants in them,"
echo "  after = applicants targeted at town level"
for tag in k1 kk; do
        jq -r --arg j "$(tr '\n' ' ' <"$T/$tag.judge")" '
        def pct: . * 1000 | round / 10;
        "privacy report \(.rule_version) (k = \(.k_floor)): in \(.records_in), out \(.records_out), " +
        "suppressed \(.suppressed), generalised \(.generalised) (\(.generalised_cells) values)\n" +
        "  unique \(.unique_share_before | pct)% -> \(.unique_share | pct)%, smallest class " +
        "\(.min_group_size_before) -> \(.min_group_size), prosecutor risk max " +
        "\(.prosecutor_risk_max * 1000 | round / 1000) mean \(.prosecutor_risk_avg * 1000 | round / 1000)\n" +
        "  records in classes of 1 / 2-4 / 5-9 / >=10: before \(.class_sizes[0:4] | map(tostring) | join(" / ")), " +
        "after \(.class_sizes[4:8] | map(tostring) | join(" / "))\n" +
        "  most identifying quasi-identifier: \(.top_quasi_identifier) (\(.top_quasi_unique_drop) records " +
        "unique only through it); batch judged in \($j)s"' "$T/$tag.report"
done
