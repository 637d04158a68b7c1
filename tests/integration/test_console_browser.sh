#!/usr/bin/env bash
# The staff console in real headless Chromium against the real services
# (console_browser.py says what it checks). Screenshots of every screen at
# 1280x800 and 1920x1080 are kept in $OSH_BUILD_DIR/artefacts/console/.
# shellcheck source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
# shellcheck source=lib/dispatch.sh
. "$(dirname "$0")/lib/dispatch.sh"
# shellcheck source=lib/console.sh
. "$(dirname "$0")/lib/console.sh"
[[ -x /usr/bin/chromedriver ]] || fail "chromium-driver missing (scripts/deps.sh installs it)"
osh_it_begin
con_start_all
CON_SHOTS=$OSH_BUILD_DIR/artefacts/console
rm -rf "$CON_SHOTS"
export CON_SHOTS OSH_BIN OSH_BOOTSTRAP_CLOUD DISP_FAKE_LOG DISP_MAILDIR
/usr/bin/python3 "$(dirname "$0")/console_browser.py" || fail "browser test failed (screenshots in $CON_SHOTS)"
OSH_IT_ASSERTS=$((OSH_IT_ASSERTS + 1))
osh_it_stop_service console
