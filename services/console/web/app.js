/* おしらせ 職員コンソール. Every text from the server is placed with
 * textContent, never as HTML; the CSP forbids inline script anyway. */
'use strict';
(function () {
  const S = { session: null, dict: null, sets: {}, templates: {}, previewTimer: null, previewSeq: 0, quietSeq: 0 };
  const $ = (id) => document.getElementById(id);
  const ROLES = ['viewer', 'author', 'approver', 'admin'];
  const ROLE_JA = { viewer: '閲覧者', author: '作成者', approver: '承認者', admin: '管理者' };
  const STATE_JA = {
    PENDING_APPROVAL: '承認待ち', REQUESTED: '依頼済み', CANCELLED: '取消済み', PREVIEWED: '試算済み',
    FROZEN: '宛先確定', DISPATCHING: '送信中', DONE: '完了', REJECTED: '却下'
  };
  const REASON_JA = {
    opt_out: '配信停止', excluded: '除外リスト', no_destination: '宛先なし', quiet_hours: '静穏時間',
    below_min_audience: '最少人数未満', category: '受信設定'
  };

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function say(text, bad) { const m = $('msg'); m.textContent = text || ''; m.className = bad ? 'msg bad' : 'msg'; }
  function count(v) {
    if (v && typeof v === 'object' && 'lt' in v) return v.lt + ' 人未満';
    if (typeof v === 'number') return v.toLocaleString('ja-JP') + ' 人';
    return '—';
  }
  function roleAtLeast(r) { return S.session && ROLES.indexOf(S.session.role) >= ROLES.indexOf(r); }
  function jst(ms) {
    if (!ms) return '';
    const d = new Date(ms + 9 * 3600 * 1000);
    return d.toISOString().replace('T', ' ').slice(0, 19);
  }

  async function api(method, path, body, type) {
    const h = {};
    if (method !== 'GET') {
      h['Content-Type'] = type || 'application/json';
      if (S.session) h['X-CSRF-Token'] = S.session.csrf;
    }
    const r = await fetch(path, {
      method, headers: h, credentials: 'same-origin',
      body: body === undefined ? undefined : (type ? body : JSON.stringify(body))
    });
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    if (r.status === 401 && path !== '/api/login') signedOut();
    if (!r.ok) throw new Error((j && j.error) || ('HTTP ' + r.status));
    return j;
  }

  /* ---- screens ---- */
  function show(name) {
    document.querySelectorAll('.screen').forEach((s) => { s.hidden = s.id !== 'screen-' + name; });
    document.querySelectorAll('#nav button').forEach((b) => {
      if (b.dataset.screen === name) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
    });
    const load = { sets: loadSets, templates: loadTemplates, send: loadSend, results: loadResults,
      audit: loadAudit, status: loadStatus }[name];
    if (load) load().catch((e) => say(e.message, true));
  }
  function signedOut() {
    S.session = null;
    $('nav').hidden = true; $('logout').hidden = true; $('who').textContent = '';
    show('login');
  }
  async function signedIn(sess) {
    S.session = sess;
    $('who').textContent = sess.user + '（' + (ROLE_JA[sess.role] || sess.role) + '）';
    $('nav').hidden = false; $('logout').hidden = false;
    document.querySelector('#nav [data-screen=audit]').hidden = sess.role !== 'admin';
    $('send-critical').disabled = !roleAtLeast('approver');
    S.dict = await api('GET', '/api/dictionary');
    fillDictionary();
    show('sets');
  }

  /* ---- sign-in ---- */
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { user: $('login-user').value, password: $('login-password').value };
    if ($('login-otp').value) body.otp = $('login-otp').value;
    try {
      const s = await api('POST', '/api/login', body);
      $('login-password').value = ''; $('login-otp').value = '';
      say('サインインしました。');
      await signedIn(s);
    } catch (e) {
      say('サインインできません: ' + e.message, true);
    }
  });
  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout', {}); } catch (e) { /* signed out anyway */ }
    signedOut(); say('サインアウトしました。');
  });
  document.querySelectorAll('#nav button').forEach((b) => b.addEventListener('click', () => show(b.dataset.screen)));

  /* ---- 宛先設定 ---- */
  function fillDictionary() {
    const a = $('f-attr'); clear(a);
    a.appendChild(el('option', '指定なし')).value = '';
    S.dict.attributes.filter((x) => x.type === 'flag' || x.type === 'code' || x.type === 'int')
      .forEach((x) => { const o = el('option', x.label); o.value = x.name; o.dataset.type = x.type; a.appendChild(o); });
    const w = $('f-ward'); clear(w);
    w.appendChild(el('option', '指定なし')).value = '';
    S.dict.wards.forEach((x) => { const o = el('option', x.label); o.value = String(x.code); w.appendChild(o); });
  }
  function range(lo, hi) { return (lo === '' ? '0' : lo) + '..' + hi; }
  function buildCondition() {
    const p = [], v = (id) => $(id).value.trim();
    const attr = $('f-attr').selectedOptions[0];
    if (attr && attr.value) {
      const val = v('f-attr-value') || '1';
      if (attr.dataset.type === 'flag') p.push(val === '0' ? 'not ' + attr.value : attr.value);
      else p.push(attr.value + ' = ' + val.replace(/[^0-9]/g, ''));
    }
    if (v('f-age-from') || v('f-age-to')) p.push('age(' + range(v('f-age-from'), v('f-age-to')) + ')');
    if (v('f-ward')) p.push('municipality_code = ' + v('f-ward'));
    if (v('f-town')) p.push('town_code = ' + v('f-town').replace(/[^0-9]/g, ''));
    const unit = v('f-child-unit');
    if (unit && (v('f-child-from') || v('f-child-to')))
      p.push((unit === 'months' ? 'child_age_months(' : 'child_age(') + range(v('f-child-from'), v('f-child-to')) + ')');
    if (v('f-cohort-from')) p.push('birth_ym >= ' + v('f-cohort-from').replace(/[^0-9]/g, ''));
    if (v('f-cohort-to')) p.push('birth_ym <= ' + v('f-cohort-to').replace(/[^0-9]/g, ''));
    return p.length ? p.join(' and ') : 'true';
  }
  $('f-build').addEventListener('click', () => { $('set-cond').value = buildCondition(); schedulePreview(); });
  document.querySelectorAll('#set-form fieldset input, #set-form fieldset select').forEach((i) =>
    i.addEventListener('change', () => { $('set-cond').value = buildCondition(); schedulePreview(); }));
  $('set-cond').addEventListener('input', schedulePreview);
  $('set-possible').addEventListener('change', schedulePreview);

  function schedulePreview() {
    clearTimeout(S.previewTimer);
    S.previewTimer = setTimeout(runPreview, 300);
  }
  function dt(dl, term, value) { dl.appendChild(el('dt', term)); dl.appendChild(el('dd', value)); }
  async function runPreview() {
    const cond = $('set-cond').value.trim();
    if (!cond) return;
    const seq = ++S.previewSeq, dl = $('preview');
    try {
      const r = await api('POST', '/api/preview', { condition: cond, include_possible: $('set-possible').checked });
      if (seq !== S.previewSeq) return;
      clear(dl);
      if (r.state === 'REJECTED' && r.message && r.message.indexOf('minimum') < 0) {
        dt(dl, '条件式の誤り', r.message); return;
      }
      dt(dl, '該当（確実）', count(r.certain));
      dt(dl, '該当の可能性', count(r.possible));
      dt(dl, '除外', count(r.suppressed));
      Object.keys(r.suppressed_by_reason || {}).forEach((k) => dt(dl, '　除外理由: ' + (REASON_JA[k] || k), count(r.suppressed_by_reason[k])));
      dt(dl, '送信対象', count(r.audience));
      dt(dl, '基準データ', r.snapshot_batch_id || '—');
      dt(dl, '応答時間', r.elapsed_ms + ' ms');
      showBreakdown(r);
    } catch (e) {
      if (seq === S.previewSeq) { clear(dl); clear($('preview-breakdown')); dt(dl, 'プレビューできません', e.message); }
    }
  }
  /* By channel and by ward, each cell as the totals: "N 人未満" below the
   * minimum audience, "非表示" where the segmenter withheld it. */
  const CHANNEL_JA = { LINE: 'LINE', EMAIL: 'メール', SMS: 'SMS', WEBHOOK: 'Webhook', TWITTER: 'X',
    FACEBOOK: 'Messenger', NONE: '宛先なし' };
  function cell(v) { return v && typeof v === 'object' && v.withheld ? '非表示' : count(v); }
  function wardLabel(w) {
    const known = (S.dict ? S.dict.wards : []).find((x) => x.code === w.ward_code);
    if (known) return known.label;
    if (w.ward_code === 0) return '区の情報なし';
    if (w.ward_code === -1) return 'その他の区';
    return w.ward || String(w.ward_code);
  }
  function breakdownTable(id, caption, head, rows, key, label) {
    const t = el('table'), hr = el('tr'), tb = el('tbody');
    t.id = id; t.className = 'breakdown';
    t.appendChild(el('caption', caption));
    [head, '該当（確実）', '該当の可能性'].forEach((h) => { const th = el('th', h); th.scope = 'col'; hr.appendChild(th); });
    t.appendChild(el('thead')).appendChild(hr);
    rows.forEach((row) => {
      const tr = el('tr'), th = el('th', label(row));
      tr.dataset.key = String(row[key]); th.scope = 'row';
      tr.appendChild(th); tr.appendChild(el('td', cell(row.certain))); tr.appendChild(el('td', cell(row.possible)));
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }
  function showBreakdown(r) {
    const box = $('preview-breakdown'); clear(box);
    if (!(r.by_channel || []).length && !(r.by_ward || []).length) return;
    box.appendChild(breakdownTable('pv-channels', 'チャネル別（宛先のチャネル）', 'チャネル', r.by_channel || [], 'channel',
      (c) => CHANNEL_JA[c.channel] || c.channel));
    box.appendChild(breakdownTable('pv-wards', '区別', '区', r.by_ward || [], 'ward_code', wardLabel));
    const min = S.session ? S.session.min_audience : 10;
    box.appendChild(el('p', '「' + min + ' 人未満」は最少人数に満たない数、「非表示」は少ない数が差し引きで分からないよう伏せた数です。', 'note'));
  }
  function latest(map) {
    const out = {};
    Object.keys(map || {}).forEach((k) => { const v = map[k]; out[k] = v[v.length - 1]; });
    return out;
  }
  async function loadSets() {
    S.sets = latest(await api('GET', '/api/sets'));
    const ul = $('set-list'); clear(ul);
    Object.keys(S.sets).forEach((name) => {
      const s = S.sets[name], li = el('li');
      li.appendChild(el('strong', name));
      li.appendChild(el('span', ' 版 ' + s.version + ' ・ ' + s.condition, 'sub'));
      ul.appendChild(li);
    });
  }
  $('set-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', '/api/sets', { name: $('set-name').value, condition: $('set-cond').value,
        include_possible: $('set-possible').checked });
      say('宛先セット「' + r.name + '」を保存しました（版 ' + r.version + '）。');
      await loadSets();
    } catch (e) { say('保存できません: ' + e.message, true); }
  });

  /* ---- テンプレート ---- */
  function readTemplate() {
    const items = $('tpl-items').value.split('\n').map((l) => l.trim()).filter((l) => l)
      .map((l) => { const m = /^【(.+?)】(.*)$/.exec(l); return m ? { label: m[1], value: m[2] } : { label: '項目', value: l }; });
    const links = $('tpl-links').value.split('\n').map((l) => l.trim()).filter((l) => l);
    return { name: $('tpl-name').value, title: $('tpl-title').value, body: $('tpl-body').value,
      items, links, confidential: $('tpl-conf').checked };
  }
  function halfWidth(s) { return s.replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xFEE0)); }
  /* As the segmenter and sns-dispatcher build it: body, 【label】value items,
   * links; chat channels put the title first as 【title】 (not wrapped
   * again when already in 【】); e-mail carries it as the subject. */
  function renderText(t, chat) {
    const lines = [];
    if (chat && t.title) lines.push(/^【.*】$/.test(t.title) ? t.title : '【' + t.title + '】');
    if (t.body) lines.push(t.body);
    t.items.forEach((i) => lines.push('【' + i.label + '】' + i.value));
    t.links.forEach((l) => lines.push(l));
    return halfWidth(lines.join('\n'));
  }
  function renderPreview() {
    const t = readTemplate(), box = $('tpl-preview'); clear(box);
    const raw = [t.title, t.body].concat(t.items.map((i) => i.value)).join('');
    const fw = (raw.match(/[０-９]/g) || []).length;
    const warn = $('tpl-warn');
    const msgs = [];
    if (t.confidential && (t.body || t.items.length)) msgs.push('機密テンプレートです。本文や項目は送られず、お知らせがあることだけが届きます。内容は本文に書かないでください。');
    if (fw) msgs.push('全角数字 ' + fw + ' 文字を半角に直して送ります。');
    warn.textContent = msgs.join(' '); warn.hidden = !msgs.length;
    (S.dict ? S.dict.channels : []).forEach((ch) => {
      const sec = el('div', null, 'chan');
      const body = ch.name === 'EMAIL' ? '件名: ' + halfWidth(t.title) + '\n\n' + renderText(t, false) : renderText(t, true);
      const n = [...body].length;
      sec.appendChild(el('h4', { LINE: 'LINE', EMAIL: 'メール', SMS: 'SMS', RCS: '+メッセージ（RCS）' }[ch.name] || ch.name));
      sec.appendChild(el('p', n + ' / ' + ch.limit + ' 文字' + (n > ch.limit ? '（上限を超えています）' : ''), n > ch.limit ? 'counter over' : 'counter'));
      sec.appendChild(el('pre', body, 'bubble'));
      box.appendChild(sec);
    });
  }
  ['tpl-title', 'tpl-body', 'tpl-items', 'tpl-links', 'tpl-conf'].forEach((id) => $(id).addEventListener('input', renderPreview));
  async function loadTemplates() {
    S.templates = latest(await api('GET', '/api/templates'));
    const ul = $('tpl-list'); clear(ul);
    Object.keys(S.templates).forEach((name) => {
      const li = el('li'); li.appendChild(el('strong', name));
      li.appendChild(el('span', ' 版 ' + S.templates[name].version + ' ・ ' + S.templates[name].title, 'sub'));
      ul.appendChild(li);
    });
    renderPreview();
  }
  $('tpl-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', '/api/templates', readTemplate());
      say('テンプレート「' + r.name + '」を保存しました（版 ' + r.version + '）。');
      await loadTemplates();
    } catch (e) { say('保存できません: ' + e.message, true); }
  });

  /* ---- 送信 ---- */
  function fillSelect(sel, names) {
    clear(sel);
    names.forEach((n) => { const o = el('option', n); o.value = n; sel.appendChild(o); });
  }
  async function loadSend() {
    S.sets = latest(await api('GET', '/api/sets'));
    S.templates = latest(await api('GET', '/api/templates'));
    fillSelect($('send-set'), Object.keys(S.sets));
    fillSelect($('send-tpl'), Object.keys(S.templates));
    await Promise.all([loadPending(), showQuiet()]);
  }
  /* The dispatcher's quiet hours (its own configuration, announced on its
   * heartbeat) and whether the chosen send time falls in them. */
  function hhmm(ms) { return jst(ms).slice(5, 16).replace('-', '/'); }
  async function showQuiet() {
    const when = $('send-when').value ? jstToMs($('send-when').value) : null;
    const seq = ++S.quietSeq, p = $('send-quiet');
    let q;
    try { q = await api('GET', '/api/quiet' + (when !== null ? '?at=' + when : '')); } catch (e) { q = null; }
    if (seq !== S.quietSeq) return;
    p.className = 'note';
    if (!q || !q.known) { p.textContent = '静穏時間: 配信サービス（sns-dispatcher）の設定をまだ受け取っていません。'; return; }
    if (!q.hours) { p.textContent = '静穏時間: なし（配信サービス ' + q.source + ' の設定）。'; return; }
    const what = when !== null ? '指定の日時 ' + hhmm(when) : '今すぐの送信';
    let t = '静穏時間 ' + q.hours.replace('-', '〜') + '（日本時間、配信サービス ' + q.source + ' の設定）。' + what;
    if (!q.in_quiet) t += ' は静穏時間外です。';
    else if ($('send-critical').checked) t += ' は静穏時間内ですが、緊急のためすぐに送ります。';
    else { t += ' は静穏時間内です。緊急でなければ ' + hhmm(q.until) + ' まで保留されます。'; p.className = 'note warn'; }
    p.textContent = t;
  }
  $('send-when').addEventListener('change', showQuiet);
  $('send-when').addEventListener('input', showQuiet);
  $('send-critical').addEventListener('change', showQuiet);
  async function loadPending() {
    const all = await api('GET', '/api/campaigns'), ul = $('pending-list'); clear(ul);
    all.filter((c) => c.state === 'PENDING_APPROVAL' || (c.state === 'REQUESTED' && c.send_at > Date.now()))
      .forEach((c) => {
        const li = el('li');
        li.appendChild(el('strong', c.title || c.id));
        li.appendChild(el('span', ' ' + (STATE_JA[c.state] || c.state) + ' ・ 作成 ' + c.author + ' ・ 宛先 ' + count(c.audience) +
          (c.send_at ? ' ・ 予定 ' + jst(c.send_at) : '') + (c.test ? ' ・ テスト' : ''), 'sub'));
        if (c.state === 'PENDING_APPROVAL' && roleAtLeast('approver')) {
          const b = el('button', '承認'); b.type = 'button'; b.dataset.id = c.id; b.className = 'approve';
          b.addEventListener('click', () => act('/api/campaigns/approve', c.id, '承認しました。'));
          li.appendChild(b);
        }
        if (roleAtLeast('author')) {
          const b = el('button', '取消'); b.type = 'button'; b.dataset.id = c.id; b.className = 'cancel';
          b.addEventListener('click', () => act('/api/campaigns/cancel', c.id, '取り消しました。'));
          li.appendChild(b);
        }
        ul.appendChild(li);
      });
  }
  async function act(path, id, done) {
    try { await api('POST', path, { id }); say(done); } catch (e) { say('できません: ' + e.message, true); }
    await loadPending();
  }
  function jstToMs(v) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(v);
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4] - 9, +m[5]) : null;
  }
  $('send-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const set = S.sets[$('send-set').value], tpl = S.templates[$('send-tpl').value];
    if (!set || !tpl) { say('宛先セットとテンプレートを選んでください。', true); return; }
    const channels = ['ch-line', 'ch-email'].filter((id) => $(id).checked).map((id) => $(id).value);
    const tests = $('send-tests').value.split(',').map((s) => s.trim()).filter((s) => s);
    const body = {
      set_name: $('send-set').value, condition: set.condition, include_possible: !!set.include_possible,
      category: $('send-category').value, channels, channel_policy: $('send-policy').value,
      send_at: $('send-when').value ? jstToMs($('send-when').value) : null,
      test: $('send-test').checked, test_recipients: tests, critical: $('send-critical').checked,
      template: { title: tpl.title, body: tpl.body, items: tpl.items, links: tpl.links, confidential: !!tpl.confidential }
    };
    try {
      const r = await api('POST', '/api/campaigns', body);
      const held = r.quiet && r.quiet.in_quiet && !body.critical ? ' 静穏時間のため ' + hhmm(r.quiet.until) + ' まで保留されます。' : '';
      say('送信を依頼しました（' + r.id + '、' + (STATE_JA[r.state] || r.state) + '、宛先 ' + count(r.audience) + '）。' + held);
      await loadPending();
    } catch (e) { say('送信できません: ' + e.message, true); }
  });

  /* ---- 送信結果 ---- */
  function drawChart(c) {
    const box = $('chart'); clear(box);
    const h = (c && c.result && c.result.history) || [];
    if (h.length < 1) { box.appendChild(el('p', 'まだ推移はありません。')); return; }
    const ns = 'http://www.w3.org/2000/svg', svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 400 120'); svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', (c.title || c.id) + ' の送信済み件数の推移');
    const t0 = h[0][0], t1 = Math.max(h[h.length - 1][0], t0 + 1), max = Math.max(1, ...h.map((p) => p[1]));
    const pts = h.map((p) => (10 + 380 * (p[0] - t0) / (t1 - t0)).toFixed(1) + ',' + (110 - 100 * p[1] / max).toFixed(1));
    const pl = document.createElementNS(ns, 'polyline');
    pl.setAttribute('points', pts.join(' ')); pl.setAttribute('class', 'line');
    svg.appendChild(pl); box.appendChild(svg);
    box.appendChild(el('p', (c.title || c.id) + ': 最大 ' + max + ' 件', 'sub'));
  }
  async function loadResults() {
    const all = await api('GET', '/api/campaigns'), tb = document.querySelector('#results-table tbody');
    clear(tb);
    all.sort((a, b) => b.created_at - a.created_at).forEach((c) => {
      const r = c.result || {}, d = r.delivery || {}, tr = el('tr');
      const sent = d.SENT, failed = d.FAILED_PERM;
      tr.appendChild(el('td', c.id));
      tr.appendChild(el('td', c.title));
      tr.appendChild(el('td', (STATE_JA[r.state] || STATE_JA[c.state] || c.state) + (r.message ? '（' + r.message + '）' : '')));
      tr.appendChild(el('td', count(r.recipients !== undefined ? r.recipients : c.audience)));
      tr.appendChild(el('td', sent === undefined ? '—' : count(sent)));
      tr.appendChild(el('td', failed === undefined ? '—' : count(failed)));
      const td = el('td'), pr = el('progress');
      pr.max = typeof r.recipients === 'number' && r.recipients > 0 ? r.recipients : 1;
      pr.value = typeof sent === 'number' ? sent : 0;
      pr.setAttribute('aria-label', c.id + ' の進捗');
      td.appendChild(pr); tr.appendChild(td);
      tr.addEventListener('click', () => drawChart(c));
      tb.appendChild(tr);
    });
    drawChart(all.find((c) => c.result && c.result.history));
  }

  /* ---- SNS データ ---- */
  $('upload-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = $('upload-file').files[0];
    if (!f) { say('ファイルを選んでください。', true); return; }
    const x = new XMLHttpRequest();
    x.open('POST', '/api/destinations');
    x.setRequestHeader('Content-Type', 'text/csv');
    x.setRequestHeader('X-CSRF-Token', S.session.csrf);
    x.upload.onprogress = (e) => { if (e.lengthComputable) $('upload-progress').value = Math.round(100 * e.loaded / e.total); };
    x.onload = () => {
      let j = {};
      try { j = JSON.parse(x.responseText); } catch (e) { j = { error: 'HTTP ' + x.status }; }
      if (x.status !== 200) { $('upload-result').textContent = 'アップロードできません: ' + (j.error || x.status); return; }
      $('upload-progress').value = 100;
      $('upload-result').textContent = '受付 ' + j.accepted + ' 行、エラー ' + j.rejected + ' 行' + (j.errors_truncated ? '（エラーは先頭 1000 行のみ）' : '');
      const a = $('upload-errors');
      if (j.errors && j.errors.length) {
        const csv = 'line,reason\r\n' + j.errors.map((e) => e.line + ',"' + String(e.reason).replace(/"/g, '""') + '"').join('\r\n') + '\r\n';
        a.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' })); a.hidden = false;
      } else a.hidden = true;
    };
    x.onerror = () => { $('upload-result').textContent = 'アップロードできません（通信エラー）'; };
    $('upload-progress').value = 0;
    x.send(f);
  });

  /* ---- 監査ログ ---- */
  async function loadAudit() {
    const q = new URLSearchParams();
    if ($('audit-actor').value) q.set('actor', $('audit-actor').value);
    if ($('audit-action').value) q.set('action', $('audit-action').value);
    const rows = await api('GET', '/api/audit?' + q.toString()), tb = document.querySelector('#audit-table tbody');
    clear(tb);
    rows.forEach((a) => {
      const tr = el('tr');
      [jst(a.at), a.actor, ROLE_JA[a.role] || a.role, a.action, a.target, a.detail, a.outcome, a.remote]
        .forEach((v) => tr.appendChild(el('td', v)));
      tb.appendChild(tr);
    });
  }
  $('audit-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadAudit().catch((e) => say(e.message, true)); });

  /* ---- データ状況 ---- */
  async function loadStatus() {
    const s = await api('GET', '/api/status'), dl = $('status'); clear(dl);
    const snap = s.snapshot;
    dt(dl, '提供中のデータ（バッチ）', snap ? snap.batch_id : 'まだありません');
    dt(dl, '抽出日時', snap ? jst(snap.extract_time) : '—');
    dt(dl, '経過', s.age_ms >= 0 ? Math.floor(s.age_ms / 3600000) + ' 時間' : '—');
    dt(dl, '件数', snap ? snap.record_count.toLocaleString('ja-JP') + ' 件' : '—');
    const w = $('stale');
    w.hidden = !s.stale;
    w.textContent = snap ? 'データが古くなっています（' + Math.floor(s.stale_after_ms / 3600000) + ' 時間以上前の抽出）。庁内からの連携を確認してください。'
      : 'クラウドにまだ住民データがありません。';
  }

  /* ---- start ---- */
  api('GET', '/api/session').then(signedIn).catch(() => signedOut());
})();
