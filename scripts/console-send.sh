#!/usr/bin/env bash
# Sends one campaign file (campaigns/*.json) through the staff console's
# API, as a member of staff would: AUTHOR signs in and requests the send;
# if it waits for approval, APPROVER signs in and approves it. Prints the
# console's campaign id. Used by scripts/demo.sh.
#
#   scripts/console-send.sh URL CA PASSWORD AUTHOR APPROVER CAMPAIGN.json
set -euo pipefail
url=$1 ca=$2 pw=$3 author=$4 approver=$5 file=$6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
signin() { # USER -> csrf token; cookie in $tmp/jar.USER
        curl -sf --cacert "$ca" -c "$tmp/jar.$1" -H 'Content-Type: application/json' \
                --data "$(jq -cn --arg u "$1" --arg p "$pw" '{user: $u, password: $p}')" "$url/api/login" | jq -r .csrf
}
post() { # USER CSRF PATH BODY
        curl -s --cacert "$ca" -b "$tmp/jar.$1" -H 'Content-Type: application/json' -H "X-CSRF-Token: $2" \
                --data "$4" -w '\n%{http_code}' "$url$3"
}
body=$(jq -c '{condition, category, include_possible, channels, channel_policy, critical,
        template: {title: .template.title, body: .template.body, items: .template.items, links: .template.links}}' "$file")
csrf=$(signin "$author")
out=$(post "$author" "$csrf" /api/campaigns "$body")
[ "${out##*$'\n'}" = 200 ] || { echo "console-send: ${out%$'\n'*}" >&2; exit 1; }
id=$(jq -r .id <<<"${out%$'\n'*}")
if [ "$(jq -r .state <<<"${out%$'\n'*}")" = PENDING_APPROVAL ]; then
        csrf=$(signin "$approver")
        out=$(post "$approver" "$csrf" /api/campaigns/approve "{\"id\":\"$id\"}")
        [ "${out##*$'\n'}" = 200 ] || { echo "console-send: approve: ${out%$'\n'*}" >&2; exit 1; }
fi
echo "$id"
