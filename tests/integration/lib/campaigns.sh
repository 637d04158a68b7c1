# shellcheck shell=bash
# seed_previews SEND_MS: campaign.requests.v1 JSON lines for the nine seed
# campaigns (campaigns/*.json) as previews sent at SEND_MS with a minimum
# audience of 1, plus "seed-10-staff-child-age-months": the day-precise
# child_age_months() that the seed conditions no longer use but staff may.
seed_previews() {
        local f
        for f in "$OSH_SOURCE_DIR"/campaigns/*.json; do
                jq -c --argjson t "$1" '.send_at = $t | .min_audience = 1' "$f"
        done
        jq -c --argjson t "$1" '.send_at = $t | .min_audience = 1 |
                .campaign_id = "seed-10-staff-child-age-months" |
                .condition = "child_age_months(18..24) and ward = chuo"' \
                "$OSH_SOURCE_DIR/campaigns/05-infant-checkup-18m.json"
}
