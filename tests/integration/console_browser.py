#!/usr/bin/python3
"""Browser tests of the staff console in real headless Chromium (Debian's
chromium + chromium-driver + python3-selenium). Run by
test_console_browser.sh, which starts the whole cloud (lib/console.sh) and
exports CON_URL, CON_PW, CON_TOTP, OSH_IT_TMP, OSH_BIN, OSH_BOOTSTRAP_CLOUD,
DISP_FAKE_LOG, DISP_MAILDIR, CON_QUIET, CON_SHOTS (screenshot directory).

Flow: sign-in refusals (password, TOTP), lock-out; alice builds a set with
the form and sees the segmenter's own counts, by channel and by ward too; XSS payloads in a set name
and a template title stay text; the per-channel template preview;
destinations upload with a per-row report; a scheduled test send is
cancelled; the send screen shows the dispatcher's quiet hours and flags a
time inside them; a test send reaches the LINE fake and the SMTP server; a send
above the threshold waits, alice cannot approve it, bob does; results and
CSV; a viewer cannot send; no CSRF token gives 403; the audit log shows
every step. On every screen at 1280x800 and 1920x1080: no two visible text
elements overlap, every field has a label and is reached with Tab. A
screenshot of every screen is kept."""
import base64, glob, hashlib, hmac, json, os, struct, subprocess, sys, time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

URL, PW, TMP = os.environ["CON_URL"], os.environ["CON_PW"], os.environ["OSH_IT_TMP"]
SHOTS = os.environ["CON_SHOTS"]
XSS_SET = '<script>window.__xss=1</script>未就学児'
XSS_TPL = '"><img src=x onerror="window.__xss=1">お知らせ'
checks = 0


def ok(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)
    print("  ok:", what, flush=True)


def totp(offset=0):
    key = base64.b32decode(os.environ["CON_TOTP"])
    c = int(time.time()) // 30 + offset
    h = hmac.new(key, struct.pack(">Q", c), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--ignore-certificate-errors", "--lang=ja", "--window-size=1280,800"):
    opts.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
d.set_page_load_timeout(30)
wait = WebDriverWait(d, 20)
by_id = lambda i: d.find_element(By.ID, i)


def msg():
    return by_id("msg").text


def click(i):
    d.execute_script("document.getElementById('msg').textContent = ''")
    by_id(i).click()


def wait_msg(part):
    wait.until(lambda _: part in msg())
    return msg()


def shot(name):
    os.makedirs(SHOTS, exist_ok=True)
    for w, h in ((1280, 800), (1920, 1080)):
        d.set_window_size(w, h)
        time.sleep(0.2)
        check_layout(name, w, h)
        d.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
        d.save_screenshot(os.path.join(SHOTS, "%s-%dx%d.png" % (name, w, h)))
    d.set_window_size(1280, 800)


OVERLAP_JS = r"""
const out = [], els = [];
for (const e of document.querySelectorAll('body *')) {
  if (!e.offsetParent && getComputedStyle(e).position !== 'fixed') continue;
  const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  if (!own && !['INPUT','SELECT','TEXTAREA','BUTTON','PROGRESS'].includes(e.tagName)) continue;
  const r = e.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) continue;
  els.push([e, r]);
}
for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++) {
  const [a, ra] = els[i], [b, rb] = els[j];
  if (a.contains(b) || b.contains(a)) continue;
  const ix = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
  const iy = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
  if (ix > 1 && iy > 1) out.push((a.id || a.tagName) + ':' + a.textContent.slice(0, 20) + ' / ' + (b.id || b.tagName) + ':' + b.textContent.slice(0, 20));
}
const fields = [...document.querySelectorAll('input, select, textarea')].filter(e => e.offsetParent);
const unlabelled = fields.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name);
return [out, unlabelled, fields.filter(e => !e.disabled).map(e => e.id)];
"""


def check_layout(name, w, h):
    overlaps, unlabelled, fields = d.execute_script(OVERLAP_JS)
    ok(not overlaps, "%s at %dx%d: no overlapping text %s" % (name, w, h, overlaps[:3]))
    ok(not unlabelled, "%s at %dx%d: every field labelled %s" % (name, w, h, unlabelled))
    # keyboard: Tab from the top reaches every enabled visible field
    d.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0,0)")
    body = d.find_element(By.TAG_NAME, "body")
    body.send_keys("")
    seen = set()
    for _ in range(len(fields) * 3 + 40):
        d.switch_to.active_element.send_keys(Keys.TAB)
        seen.add(d.switch_to.active_element.get_attribute("id"))
        if set(fields) <= seen:
            break
    ok(set(fields) <= seen, "%s at %dx%d: Tab reaches every field (missed %s)" % (name, w, h, set(fields) - seen))


def screen(name):
    d.find_element(By.CSS_SELECTOR, "#nav button[data-screen=%s]" % name).click()
    wait.until(lambda _: by_id("screen-" + name).is_displayed())
    time.sleep(0.3)


def login(user, pw=PW, otp=""):
    d.delete_all_cookies()
    d.get(URL + "/")
    wait.until(lambda _: by_id("login-user").is_displayed())
    by_id("login-user").clear(); by_id("login-user").send_keys(user)
    by_id("login-password").clear(); by_id("login-password").send_keys(pw)
    by_id("login-otp").clear()
    if otp:
        by_id("login-otp").send_keys(otp)
    by_id("login-submit").click()


def signed_in(user):
    wait.until(lambda _: user in by_id("who").text)


def ctl_results(cid):
    out = subprocess.run([os.environ["OSH_BIN"] + "/osh-ctl", "consume", "--bootstrap",
                          os.environ["OSH_BOOTSTRAP_CLOUD"], "--topic", "campaign.results.v1",
                          "--timeout", "5s"], capture_output=True, text=True).stdout
    return [json.loads(l)["value"] for l in out.splitlines() if l.strip()
            and json.loads(l)["value"]["campaign_id"] == cid]


try:
    # ---- sign-in ----
    d.get(URL + "/")
    wait.until(lambda _: by_id("login-user").is_displayed())
    shot("01-login")
    login("alice", "wrong-password-1")
    ok("サインインできません" in wait_msg("サインインできません"), "wrong password refused")
    login("tina", PW, "000000" if totp() != "000000" else "111111")
    wait_msg("サインインできません")
    ok(not by_id("nav").is_displayed(), "wrong TOTP refused")
    for _ in range(3):
        login("vic", "wrong-password-1")
        time.sleep(0.3)
    login("vic")
    ok("locked" in wait_msg("サインインできません"), "lock-out after repeated failures")
    login("tina", PW, totp())
    signed_in("tina")
    ok(True, "right TOTP accepted")

    # ---- 宛先設定: the form builds the condition, the preview shows counts ----
    login("alice")
    signed_in("alice")
    wait.until(lambda _: len(Select(by_id("f-attr")).options) > 10)
    labels = [o.text for o in Select(by_id("f-attr")).options]
    ok("国民健康保険" in labels, "attribute labels from the dictionary")
    Select(by_id("f-attr")).select_by_visible_text("国民健康保険")
    wait.until(lambda _: by_id("set-cond").get_attribute("value") == "nhi")
    wait.until(lambda _: "該当（確実）" in by_id("preview").text)
    shown = by_id("preview").text
    subprocess.run([os.environ["OSH_BIN"] + "/osh-ctl", "produce", "--bootstrap",
                    os.environ["OSH_BOOTSTRAP_CLOUD"], "--topic", "campaign.requests.v1",
                    "--key.field", "campaign_id"], check=True, capture_output=True,
                   input=json.dumps({"campaign_id": "br-direct", "action": "PREVIEW",
                                     "condition": "nhi", "template": {}, "min_audience": 10}), text=True)
    deadline = time.time() + 20
    while not ctl_results("br-direct") and time.time() < deadline:
        time.sleep(0.5)
    direct = ctl_results("br-direct")[-1]
    ok("%s 人" % format(direct["certain"], ",") in shown,
       "the form's preview shows the segmenter's count %d (page: %s)" % (direct["certain"], shown.splitlines()[:2]))
    # by channel and by ward: the segmenter's numbers, each cell under the fewer-than-10 rule
    def shown(v):
        return "非表示" if v == -1 else "10 人未満" if v < 10 else "%s 人" % format(v, ",")

    def breakdown_matches():
        for table, key in (("pv-channels", "channel"), ("pv-wards", "ward_code")):
            rows = d.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table)
            if len(rows) != len(direct["by_" + key.split("_")[0]]):
                return False
            for row in direct["by_" + key.split("_")[0]]:
                tds = [td.text for td in d.find_elements(By.CSS_SELECTOR, "#%s tr[data-key='%s'] td" % (table, row[key]))]
                if tds != [shown(row["certain"]), shown(row["possible"])]:
                    return False
        return True
    try:
        wait.until(lambda _: breakdown_matches())
    except Exception:
        pass
    ok(breakdown_matches(), "per-channel and per-ward cells equal the segmenter's %s / %s (page: %s)" % (
        direct["by_channel"], direct["by_ward"], by_id("preview-breakdown").text.replace("\n", " | ")))
    ok(len(direct["by_ward"]) >= 2 and "中央区" in by_id("pv-wards").text, "wards by their Japanese labels")
    Select(by_id("f-ward")).select_by_visible_text("中央区")
    wait.until(lambda _: "municipality_code = 12101" in by_id("set-cond").get_attribute("value"))
    wait.until(lambda _: "人未満" in by_id("preview").text or "人" in by_id("preview").text)
    Select(by_id("f-ward")).select_by_index(0)
    wait.until(lambda _: by_id("set-cond").get_attribute("value") == "nhi")
    by_id("set-name").send_keys(XSS_SET)
    by_id("set-save").click()
    wait_msg("保存しました")
    wait.until(lambda _: XSS_SET in by_id("set-list").text)
    ok(d.execute_script("return window.__xss") is None, "set name with <script> shown as text, not run")
    time.sleep(1)
    shot("02-sets")

    # ---- テンプレート ----
    screen("templates")
    by_id("tpl-name").send_keys("健診のご案内")
    by_id("tpl-title").send_keys(XSS_TPL)
    by_id("tpl-body").send_keys("受付は９時から１２時です。")
    by_id("tpl-items").send_keys("【会場】中央保健福祉センター")
    by_id("tpl-links").send_keys("https://www.city.chiba.jp/")
    wait.until(lambda _: len(d.find_elements(By.CSS_SELECTOR, "#tpl-preview .chan")) == 4)
    pv = by_id("tpl-preview").text
    ok("LINE" in pv and "メール" in pv and "SMS" in pv and "RCS" in pv, "a preview per channel")
    ok("/ 660 文字" in pv and "/ 2730 文字" in pv and "/ 5000 文字" in pv, "length counters against each limit")
    ok("受付は9時から12時です。" in pv, "half-width digit normalisation visible")
    ok("【" + XSS_TPL + "】\n受付は" in pv, "chat channels: the title as the 【title】 first line, as the dispatcher sends it")
    ok("全角数字" in by_id("tpl-warn").text, "normalisation announced")
    by_id("tpl-conf").click()
    wait.until(lambda _: "機密テンプレート" in by_id("tpl-warn").text)
    ok(True, "confidential warning")
    by_id("tpl-conf").click()
    by_id("tpl-save").click()
    wait_msg("保存しました")
    wait.until(lambda _: XSS_TPL in by_id("tpl-list").text)
    ok(d.execute_script("return window.__xss") is None and not d.find_elements(By.CSS_SELECTOR, "#tpl-list img"),
       "template title with onerror shown as text, not run")
    shot("03-templates")

    # ---- SNS データ ----
    screen("upload")
    csv = os.path.join(TMP, "browser-dest.csv")
    with open(csv, "w") as f:
        f.write("利用者ID,channel,account id,categories\n")
        f.write("TEST0001,line,U0123456789abcdef0123456789abcdef,childcare\n")
        f.write("TEST0002,email,staff-test@example.jp,childcare\n")
        f.write("TEST0003,fax,123,childcare\n")
    by_id("upload-file").send_keys(csv)
    by_id("upload-submit").click()
    wait.until(lambda _: "受付" in by_id("upload-result").text)
    ok("受付 2 行、エラー 1 行" in by_id("upload-result").text, "upload: 2 accepted, 1 rejected")
    ok(by_id("upload-errors").is_displayed(), "per-row error report offered")
    shot("04-upload")
    time.sleep(2)  # the segmenter applies destinations from its state consumer

    # ---- 送信: a scheduled test send is cancelled ----
    screen("send")
    wait.until(lambda _: len(Select(by_id("send-set")).options) >= 1 and len(Select(by_id("send-tpl")).options) >= 1)
    ok(not by_id("send-critical").is_enabled(), "critical flag is for approvers only")
    # the dispatcher's quiet hours (its heartbeat), and whether the chosen time falls in them
    hours = os.environ["CON_QUIET"].replace("-", "〜")

    def quiet_text(when):
        d.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                         by_id("send-when"), when)
        time.sleep(0.5)
        return by_id("send-quiet").text
    wait.until(lambda _: "静穏時間 " + hours in quiet_text(""))
    ok("今すぐの送信 は静穏時間外" in by_id("send-quiet").text, "quiet hours %s shown; now is outside them" % hours)
    inside = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 9 * 3600 + 4 * 3600))
    wait.until(lambda _: "静穏時間内" in quiet_text(inside))
    ok("保留されます" in by_id("send-quiet").text, "a time in the quiet hours is flagged as held: " + by_id("send-quiet").text)
    shot("05a-send-quiet")
    wait.until(lambda _: "静穏時間外" in quiet_text(""))
    by_id("send-test").click()
    by_id("send-tests").send_keys("TEST0001,TEST0002")
    later = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 9 * 3600 + 7200))
    d.execute_script("arguments[0].value = arguments[1]", by_id("send-when"), later)
    click("send-submit")
    wait_msg("送信を依頼しました")
    wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, "#pending-list button.cancel"))
    shot("05-send")
    time.sleep(1.5)  # let the segmenter freeze it
    d.find_element(By.CSS_SELECTOR, "#pending-list button.cancel").click()
    ok("取り消しました" in wait_msg("取り消しました"), "scheduled send cancelled")
    # ---- a test send now ----
    d.execute_script("arguments[0].value = ''", by_id("send-when"))
    click("send-submit")
    wait_msg("送信を依頼しました")
    deadline = time.time() + 40
    while time.time() < deadline and "テスト送信" not in open(os.environ["DISP_FAKE_LOG"]).read():
        time.sleep(0.5)
    ok("■テスト送信■" in open(os.environ["DISP_FAKE_LOG"]).read(), "test send reached the LINE fake, marked")
    deadline = time.time() + 40
    mails = []
    while time.time() < deadline and not mails:
        mails = [p for p in glob.glob(os.path.join(os.environ["DISP_MAILDIR"], "new", "*"))]
        time.sleep(0.5)
    ok(mails and "staff-test@example.jp" in open(mails[0], errors="replace").read(), "test send reached the SMTP server")
    # ---- a real send above the threshold waits for a second person ----
    by_id("send-test").click()
    click("send-submit")
    ok("承認待ち" in wait_msg("送信を依頼しました"), "above the threshold: awaiting approval")
    ok(not d.find_elements(By.CSS_SELECTOR, "#pending-list button.approve"), "an author sees no approve button")
    csrf = d.execute_script("return fetch('/api/campaigns/approve', {method:'POST', headers:{'Content-Type':'application/json'}, body:'{\"id\":\"x\"}'}).then(r => r.status)")
    ok(csrf == 403, "no CSRF token: 403 (got %s)" % csrf)
    by_id("logout").click()

    login("bob")
    signed_in("bob")
    screen("send")
    wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, "#pending-list button.approve"))
    approve = d.find_element(By.CSS_SELECTOR, "#pending-list button.approve")
    big = approve.get_attribute("data-id")
    approve.click()
    ok("承認しました" in wait_msg("承認しました"), "bob approves alice's send")

    # ---- 送信結果 ----
    screen("results")
    deadline = time.time() + 40
    while time.time() < deadline:
        screen("results")
        row = [r.text for r in d.find_elements(By.CSS_SELECTOR, "#results-table tbody tr") if big in r.text]
        if row and ("完了" in row[0] or "送信中" in row[0]):
            break
        time.sleep(1)
    ok(row and ("完了" in row[0] or "送信中" in row[0]), "results show the approved send dispatched: %s" % row)
    ok(XSS_TPL in by_id("results-table").text, "title shown as text in results")
    ok(by_id("csv-link").get_attribute("href").endswith("/api/results.csv"), "CSV export offered")
    shot("06-results")
    screen("status")
    wait.until(lambda _: "B-IT-1" in by_id("status").text)
    ok(True, "data status names the served snapshot")
    shot("07-status")

    # ---- a viewer cannot send ----
    login("val")
    signed_in("val")
    screen("send")
    wait.until(lambda _: len(Select(by_id("send-tpl")).options) >= 1)
    click("send-submit")
    ok("role viewer may not request sends" in wait_msg("送信できません"), "a viewer cannot send")
    by_id("logout").click()

    login("root")
    signed_in("root")
    screen("audit")
    wait.until(lambda _: "SIGN_IN" in by_id("audit-table").text)
    text = by_id("audit-table").text
    for a in ("SIGN_IN_FAILED", "LOCKED_OUT", "PREVIEW", "SAVE_SET", "SAVE_TEMPLATE", "UPLOAD",
              "SEND_REQUEST", "CANCEL", "APPROVE", "REFUSED"):
        ok(a in text, "audit shows " + a)
    by_id("audit-actor").send_keys("bob")
    by_id("audit-search").click()
    wait.until(lambda _: "alice" not in by_id("audit-table").text)
    ok("APPROVE" in by_id("audit-table").text, "audit filtered to bob shows his approval")
    shot("08-audit")
    print("PASS console_browser (%d checks)" % checks)
except Exception:
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, "failure.png"))
    print("page message:", msg() if d else "", file=sys.stderr)
    raise
finally:
    d.quit()
