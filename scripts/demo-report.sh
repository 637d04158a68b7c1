#!/usr/bin/env bash
# Prints the demo's report from what the pipeline left on the clusters, the
# services' logs and the monitor. Called by scripts/demo.sh with the broker's
# bootstrap variables exported.
#   scripts/demo-report.sh WORKDIR SNAPSHOT_SECONDS TOTAL_SECONDS MONITOR_PORT
set -euo pipefail
T=$1 t_snapshot=$2 t_total=$3 mon_port=$4
ctl=$OSH_BIN/osh-ctl
# Avro JSON tags non-null union values ({"string": "x"}); unwrap them.
JQ_DEFS='def u: if type == "object" and length == 1 then .[] else . end;'

values() { # BOOTSTRAP TOPIC
        "$ctl" consume --bootstrap "$1" --topic "$2" --timeout 10s 2>/dev/null | jq -c .value
}
count() { # BOOTSTRAP TOPIC
        timeout 30 kcat -C -q -b "$1" -t "$2" -o beginning -e -f '.\n' 2>/dev/null | wc -l
}

echo "================================================================================"
echo " oshirase demo report   $(TZ=Asia/Tokyo date '+%Y-%m-%d %H:%M JST')"
echo "================================================================================"
sed -E 's/^gen-residents: / city: /; s/ written to .* in / generated in /; s/ written to .*//' "$T/gen.out"
echo " batch to cloud snapshot: ${t_snapshot}s; whole run incl. campaigns: ${t_total}s"

echo
echo "-- records per stage (topic @ cluster) -----------------------------------------"
printf ' %-36s %10s\n' "resident.raw.v1 @ core" "$(count "$OSH_BOOTSTRAP_CORE" resident.raw.v1)"
printf ' %-36s %10s\n' "resident.rejects.v1 @ core" "$(count "$OSH_BOOTSTRAP_CORE" resident.rejects.v1)"
printf ' %-36s %10s\n' "resident.raw.v1 @ processing" "$(count "$OSH_BOOTSTRAP_PROCESSING" resident.raw.v1)"
for c in PROCESSING EXCHANGE CLOUD; do
        v=OSH_BOOTSTRAP_$c
        printf ' %-36s %10s\n' "resident.abstracted.v1 @ ${c,,}" "$(count "${!v}" resident.abstracted.v1)"
done
printf ' %-36s %10s\n' "destinations.v1 @ cloud" "$(count "$OSH_BOOTSTRAP_CLOUD" destinations.v1)"
printf ' %-36s %10s\n' "notify.dispatch.v1 @ cloud" "$(count "$OSH_BOOTSTRAP_CLOUD" notify.dispatch.v1)"
printf ' %-36s %10s\n' "notify.status.v1 @ cloud" "$(count "$OSH_BOOTSTRAP_CLOUD" notify.status.v1)"
echo " raw records in exchange/cloud: none by construction (topic absent there)"

echo
echo "-- extractor reconciliation (read = joined + not applicant + rejected) --------"
grep -E 'read [0-9]+ = joined' "$T/extractor.log" | tail -n 1 | sed -E 's/^.*\]: / /' || true
echo " rejects by reason:"
values "$OSH_BOOTSTRAP_CORE" resident.rejects.v1 |
        jq -rs "$JQ_DEFS"' group_by(.reason | u) | map("   \(.[0].reason | u): \(length)") | .[]' ||
        true

echo
echo "-- privacy report (anonymizer) -------------------------------------------------"
values "$OSH_BOOTSTRAP_PROCESSING" privacy.report.v1 | tail -n 1 | jq -r "$JQ_DEFS"' " rule version \(.rule_version | u), quasi-identifiers \(.quasi_identifiers | u | tostring)
 records in \(.records_in), out \(.records_out), suppressed \(.suppressed), generalised \(.generalised)
 extreme ages removed \(.extreme_ages_removed); smallest group \(.min_group_size) (k floor \(.k_floor))
 unique records \(.unique_share_before * 1000 | round / 10)% before k, \(.unique_share * 1000 | round / 10)% after; smallest group before \(.min_group_size_before)
 prosecutor risk max \(.prosecutor_risk_max * 1000 | round / 1000), mean \(.prosecutor_risk_avg * 1000 | round / 1000); most identifying: \(.top_quasi_identifier | u)"'

echo
echo "-- destinations upload ------------------------------------------------------------"
jq -r '" accepted \(.accepted), rejected \(.rejected)"' "$T/destinations.report.json"

echo
echo "-- campaigns ---------------------------------------------------------------------"
values "$OSH_BOOTSTRAP_CLOUD" campaign.results.v1 >"$T/results.jsonl"
values "$OSH_BOOTSTRAP_CLOUD" notify.status.v1 >"$T/status.jsonl"
# Previews (the console's pv-…) are answers, not campaigns. A send made
# through the staff console (con-…) is shown under the campaign it sends,
# with that campaign's previews and its own dispatches.
names=$(jq -Rn '[inputs | split("\t") | select(length == 2)
  | {(.[0]): "\(.[1]) (console)", (.[1]): "\(.[1]) (console)"}] | add // {}' "$T/console-sends.tsv" 2>/dev/null ||
        echo '{}')
printf ' %-40s %8s %8s %10s %8s %8s\n' campaign certain possible suppressed sent failed
jq -rs --slurpfile st <(jq -s . "$T/status.jsonl") --argjson names "$names" "$JQ_DEFS"'
  def name: $names[.campaign_id] // .campaign_id;
  ($st[0] | map(.campaign_id = name) | group_by(.dispatch_id) | map(.[-1])) as $final
  | map(select(.campaign_id | startswith("pv-") | not) | .campaign_id = name)
  | group_by(.campaign_id) | .[]
  | (map(select(.action == "PREVIEW")) | .[-1]) as $p
  | .[0].campaign_id as $c
  | ($final | map(select(.campaign_id == $c))) as $f
  | def n: (.recipients | u | if type == "array" then length elif type == "number" then . else 1 end);
    [$c, ($p.certain // 0), ($p.possible // 0), ($p.suppressed // 0),
     ($f | map(select(.status == "SENT" or .status == "DELIVERED") | n) | add // 0),
     ($f | map(select(.status == "FAILED_PERM") | n) | add // 0)]
  | " \(.[0] | .[0:40] | . + " " * (40 - length)) \(.[1] | tostring | " " * (8 - length) + .) \(.[2] | tostring | " " * (8 - length) + .) \(.[3] | tostring | " " * (10 - length) + .) \(.[4] | tostring | " " * (8 - length) + .) \(.[5] | tostring | " " * (8 - length) + .)"' \
        "$T/results.jsonl"
while IFS=$'\t' read -r cid seed; do
        echo " (console): $seed sent through the staff console's API as $cid"
done <"$T/console-sends.tsv" 2>/dev/null || true
echo " suppressed by reason (last preview of each campaign):"
jq -rs "$JQ_DEFS"' map(select(.campaign_id | startswith("pv-") | not)) | group_by(.campaign_id)
  | map(map(select(.action == "PREVIEW")) | .[-1] // empty)
  | map(.suppressed_by_reason // {} | to_entries) | add // [] | group_by(.key)
  | map("   \(.[0].key): \(map(.value) | add)") | .[]' "$T/results.jsonl" || true
echo " accepted by the provider fakes: $(wc -l <"$T/accepted.jsonl") request(s);" \
        "e-mails received by the SMTP server: $(find "$T/maildir" -type f 2>/dev/null | wc -l)"

echo
echo "-- monitor (exchange segment) ------------------------------------------------------"
# The demo saves the status in which it saw the monitor judge OK; without
# it, ask the monitor now.
if [ -s "$T/status.json" ] || curl -sf "http://127.0.0.1:$mon_port/status" >"$T/status.json"; then
        echo " (status of $(date -d "@$(($(stat -c %Y "$T/status.json")))" '+%H:%M:%S'))"
        jq -r '
  (.services // [])[] | " \(.segment // "?" | ascii_downcase | .[0:10] | . + " " * (10 - length)) \(.service | . + " " * (16 - length)) \(.instance // "" | . + " " * (16 - length)) \(.health // .state) (in \(.records_in // 0), out \(.records_out // 0), rejected \(.records_rejected // 0), lag \(.lag // "-"))"' \
                "$T/status.json" 2>/dev/null | sort -u || true
        # only the consumer groups that pull the overall state down
        jq -r '(.consumers // [])[] | select(.status != "OK" and .status != "UNKNOWN")
  | " consumer \(.group) on \(.topic): \(.status) (lag \(.lag))"' "$T/status.json" 2>/dev/null || true
        jq -r '" overall \(.overall); probe of the cloud: \(.probe.state) (\(.probe.failures) of \(.probe.attempts) failed); cloud snapshot: \(.probe.snapshot // {} | tostring)"' \
                "$T/status.json" 2>/dev/null || true
else
        echo " monitor not answering on port $mon_port"
fi
echo "================================================================================"
