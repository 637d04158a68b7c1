#!/usr/bin/env bash
# The README's demo command at a small size: the whole pipeline must run and
# its report must show the batch in every segment, nine campaigns answered,
# sends reaching the fakes and the SMTP server, and a healthy monitor.
. "$(dirname "$0")/lib/harness.sh"
osh_it_begin
out=$OSH_IT_TMP/demo-out
# --keep: the demo stays up after its report and must stop on SIGTERM. Its
# processes run under its own temp dir, so none may be left once it exits.
dtmp=$OSH_IT_TMP/demo-tmp
mkdir -p "$dtmp"
TMPDIR=$dtmp DEMO_OUT=$out BUILD_DIR=$OSH_BUILD_DIR "$OSH_SOURCE_DIR/scripts/demo.sh" \
        --residents 5000 --keep >"$OSH_IT_TMP/demo.stdout" 2>"$OSH_IT_TMP/demo.stderr" &
demo=$!
kept() { grep -q "still running" "$OSH_IT_TMP/demo.stderr"; }
demo_dead() { ! kill -0 "$demo" 2>/dev/null; }
kept_or_dead() { kept || demo_dead; }
osh_it_wait_until 900 kept_or_dead || fail "demo.sh neither finished nor failed in 900 s"
kept || { wait "$demo" || true; tail -40 "$OSH_IT_TMP/demo.stderr" >&2; fail "demo.sh failed"; }
kill -TERM "$demo"
osh_it_wait_until 20 demo_dead || fail "demo.sh --keep still running 20 s after SIGTERM"
rc=0
wait "$demo" || rc=$?
assert_eq 143 "$rc" "demo.sh --keep exits on SIGTERM"
assert_eq "" "$(pgrep -f "$dtmp" || true)" "nothing the demo started is left running"
r=$(cat "$out/report.txt")
n() { awk -v k="$1" 'index($0, k) == 2 { print $NF }' <<<"$r"; }
raw=$(n "resident.raw.v1 @ core")
assert_ge "$raw" 100 "applicants extracted"
assert_eq "$raw" "$(n "resident.raw.v1 @ processing")" "raw relayed to processing"
# The anonymizer suppresses records of groups smaller than k: in = out + suppressed.
read -r p_in p_out p_sup < <(sed -nE 's/^ records in ([0-9]+), out ([0-9]+), suppressed ([0-9]+).*/\1 \2 \3/p' <<<"$r")
assert_eq "$raw" "$p_in" "the anonymizer read every raw record"
assert_eq "$p_in" "$((p_out + p_sup))" "privacy report reconciles (in = out + suppressed)"
assert_eq "$p_out" "$(n "resident.abstracted.v1 @ processing")" "abstracted = anonymizer's out"
assert_eq "$p_out" "$(n "resident.abstracted.v1 @ cloud")" "every abstracted record reached the cloud"
assert_eq 9 "$(grep -c '^ seed-0[1-9]' <<<"$r")" "nine campaigns in the report"
assert_ge "$(n "notify.dispatch.v1 @ cloud")" 1 "dispatches emitted"
# campaigns/01 goes through the staff console: its row carries the console's
# send (the con-… dispatches) under the campaign's name; the console's
# previews (pv-…) are not campaigns
assert_eq 0 "$(grep -cE '^ (pv|con)-' <<<"$r")" "no preview or bare console id among the campaigns"
c01=$(grep '^ seed-01-child-benefit-guidance (console) ' <<<"$r" || true)
assert_ne "" "$c01" "campaigns/01 shown as sent through the staff console: $(sed -n '/-- campaigns/,/suppressed by/p' <<<"$r")"
assert_ge "$(awk '{ print $(NF - 1) + $NF }' <<<"$c01")" 1 "the console's send counts its dispatches: $c01"
assert_contains "$r" "sent through the staff console's API as con-"
assert_eq "$(n "notify.dispatch.v1 @ cloud")" "$(awk '/^ seed-0/ { s += $(NF - 1) + $NF } END { print s + 0 }' <<<"$r")" \
        "every dispatch ended SENT or FAILED_PERM"
assert_contains "$r" "overall OK" "monitor judges the pipeline healthy: $(sed -n '/-- monitor/,$p' <<<"$r")"
assert_contains "$r" "probe of the cloud: OK" "probe over the data link"
assert_contains "$r" "read " "extractor reconciliation printed"
mails=$(grep -o 'SMTP server: [0-9]*' <<<"$r" | grep -o '[0-9]*$')
assert_ge "$mails" 1 "e-mails delivered to the real SMTP server"

# Every step checks its outcome (issue 15.13): an upload cloud-ingest refuses
# (413 here) stops the demo with the reason instead of a report that passes.
rc=0
TMPDIR=$dtmp DEMO_OUT=$OSH_IT_TMP/demo-out-413 BUILD_DIR=$OSH_BUILD_DIR DEMO_MAX_CSV_BYTES=1K \
        "$OSH_SOURCE_DIR/scripts/demo.sh" --residents 2000 >/dev/null 2>"$OSH_IT_TMP/demo413.stderr" || rc=$?
assert_ne 0 "$rc" "the demo fails when the destinations upload is refused"
assert_contains "$(cat "$OSH_IT_TMP/demo413.stderr")" "destinations upload answered HTTP 413"
assert_no_file "$OSH_IT_TMP/demo-out-413/report.txt" "no report after a failed step"
