#!/usr/bin/env bash
# osh-ctl against the embedded broker: JSON → Avro single-object records on
# every segment's cluster, read back as JSON, and the raw bytes carry the
# C3 01 + fingerprint header that `osh-ctl schemas` lists.
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
osh_it_start_broker

ctl="$OSH_BIN/osh-ctl"
marker='{"batch_id":"B-%s","kind":"END","topic":"resident.raw.v1","record_count":%d,"checksum":"00000000000000aa","checksum_algorithm":"sum64-sha256","reference_date":20415,"extract_time":1795000000000,"full_snapshot":true,"producer":"test","instance":"it"}'

for seg in CORE PROCESSING EXCHANGE CLOUD; do
        var=OSH_BOOTSTRAP_$seg
        bs=${!var}
        for i in 1 2 3; do printf "$marker\n" "$seg" "$i"; done |
                "$ctl" produce --bootstrap "$bs" --topic batch.control.v1 --key.field batch_id \
                        --header osh.batch.id=B-$seg 2>"$OSH_IT_TMP/produce.err" ||
                fail "produce to $seg: $(cat "$OSH_IT_TMP/produce.err")"
        out=$("$ctl" consume --bootstrap "$bs" --topic batch.control.v1 --count 3 --timeout 15s)
        assert_eq 3 "$(grep -c "\"batch_id\":\"B-$seg\"" <<<"$out")" "three records back from $seg"
        assert_eq "1 2 3" "$(grep -o '"record_count":[0-9]*' <<<"$out" | cut -d: -f2 | sort | xargs)"
        assert_contains "$out" '"osh.batch.id":"B-'"$seg"'"' "header on $seg"
        assert_not_contains "$out" decode_error
done

# A bad line is rejected with the JSON path, and the good ones still go.
printf '%s\n' '{"batch_id":"x","kind":"MIDDLE"}' |
        "$ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic batch.control.v1 \
                2>"$OSH_IT_TMP/bad.err" && fail "bad enum accepted"
assert_contains "$(cat "$OSH_IT_TMP/bad.err")" '$.kind'

# The wire format: magic C3 01 then the fingerprint osh-ctl lists.
fp=$("$ctl" schemas | awk '$2 == "jp.oshirase.BatchControl" && $4 == "current" {print $1}')
assert_ne "" "$fp" "fingerprint listed"
head=$(kcat -C -b "$OSH_BOOTSTRAP_CLOUD" -t batch.control.v1 -o beginning -c 1 -e -f '%s' 2>/dev/null |
        head -c 10 | od -An -tx1 | tr -d ' \n')
le=$(sed 's/../& /g' <<<"$fp" | awk '{for (i = NF; i >= 1; i--) printf "%s", $i}')
assert_eq "c301$le" "$head" "single-object header"

# Bytes with zero bytes survive both directions (flag bitsets are full of them).
printf '%s\n' '{"user_id":"u1","batch_id":"b","reference_date":20415,"flags":"\u0000\u0005\u0000"}' |
        "$ctl" produce --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic resident.abstracted.v1 2>/dev/null
out=$("$ctl" consume --bootstrap "$OSH_BOOTSTRAP_CLOUD" --topic resident.abstracted.v1 --count 1)
assert_contains "$out" '"flags":"\u0000\u0005\u0000"' "NUL bytes kept"

# Staff's dictionary travels sealed: the segmenter loads it with the key only.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$OSH_IT_TMP/dict.key"
"$ctl" seal-dictionary --in "$OSH_SOURCE_DIR/schemas/dictionary.tsv" --out "$OSH_IT_TMP/dict.sealed" \
        --key.file "$OSH_IT_TMP/dict.key" >/dev/null
assert_not_contains "$(od -c "$OSH_IT_TMP/dict.sealed")" "n   h   i" "no item name in the clear"
assert_eq 0 "$(grep -c 国民健康保険 "$OSH_IT_TMP/dict.sealed" || true)" "no label in the clear"

# ---- watermarks (issue 15.19): never creates a topic, one round for all ----
rc=0
"$ctl" watermarks --bootstrap "$OSH_BOOTSTRAP_CORE" --topic no.such.topic.v1 >/dev/null \
        2>"$OSH_IT_TMP/wm.err" || rc=$?
assert_eq 1 "$rc" "watermarks of a missing topic fail"
assert_contains "$(cat "$OSH_IT_TMP/wm.err")" "topic no.such.topic.v1 does not exist"
assert_eq 0 "$(kcat -L -b "$OSH_BOOTSTRAP_CORE" -J | jq '[.topics[] | select(.topic == "no.such.topic.v1")] | length')" \
        "and it was not created"
printf 'k\tv1\nk\tv2\nk\tv3\n' | osh_it_produce "$OSH_BOOTSTRAP_CORE" resident.raw.v1 7
t0=$(date +%s%N)
wm=$("$ctl" watermarks --bootstrap "$OSH_BOOTSTRAP_CORE" --topic resident.raw.v1)
ms=$((($(date +%s%N) - t0) / 1000000))
echo "[test_ctl] watermarks of 32 partitions in ${ms} ms" >&2
assert_eq 32 "$(wc -l <<<"$wm")" "one line per partition"
assert_eq $'resident.raw.v1\t7\t0\t3' "$(grep -P '^resident.raw.v1\t7\t' <<<"$wm")" "low and high of partition 7"
assert_eq 0 "$(awk -F'\t' '$2 != 7 && ($3 != 0 || $4 != 0)' <<<"$wm" | wc -l)" "the others are empty"
((ms < 3000)) || fail "watermarks of 32 partitions took ${ms} ms"
