// The zone terminal page: renders the daemon's server-sent events (gateway/kiosk/feed.py).
// Views: idle, tap (look at the camera), decision, alarm; the alarm takes over from any other
// view until the daemon says it is acknowledged. The stream reconnects by itself when the
// daemon restarts; the page is never reloaded (window.__kiosk.loads stays 1, for the tests).
"use strict";
(function () {
  const K = (window.__kiosk = {
    loads: 1, boot_id: null, boots: [], lang: "zh-CN", readonly: false,
    decisions: [], alarms: 0, connected: false,
  });
  let state = null, decision = null, tapBadge = null, decisionTimer = null, tapTimer = null;
  let showS = 6, source = null, retryMs = 500;
  let pending = null, outcome = null, outcomeTimer = null, selected = null;
  K.actions = [];
  const ACTIONS = {
    gas_test: ["气体分析", "Gas test"], start: ["开始作业", "Start work"], break: ["暂停作业", "Break"],
    resume: ["恢复作业", "Resume work"], finish: ["完工", "Finish"], everyone_out: ["全员撤离", "Everyone out"],
    close: ["关闭作业票", "Close permit"],
  };
  const actionName = (a) => (ACTIONS[a] ? ACTIONS[a][zh() ? 0 : 1] : a);
  const $ = (id) => document.getElementById(id);
  const zh = () => K.lang === "zh-CN";
  const t = (o, key) => (o ? (zh() ? o[key ? key + "_zh" : "zh"] || o.zh : o[key ? key + "_en" : "en"] || o.en) : "");
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
  const fmtNum = (v) => (v == null ? "—" : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));
  const fmtLeft = (s) => {
    if (s == null) return zh() ? "时间未同步" : "clock not synced";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (zh() ? "剩余 " : "") + (h ? h + "h " : "") + m + "min" + (zh() ? "" : " left");
  };

  function words() {
    document.querySelectorAll("[data-zh]").forEach((e) => { e.textContent = zh() ? e.dataset.zh : e.dataset.en; });
    $("lang").textContent = zh() ? "EN" : "中文";
    document.documentElement.lang = K.lang;
  }

  function setView() {
    let view = "idle";
    if (state && state.alarm) view = "alarm";
    else if (outcome) view = "outcome";
    else if (decision) view = "decision";
    else if (tapBadge) view = "tap";
    else if (pending) view = "pending";
    document.body.dataset.view = view;
    $("outcome").hidden = view !== "outcome";
    $("pending").hidden = view !== "pending";
    $("actions").hidden = K.readonly || !K.actionsAvailable;
    $("alarm").hidden = view !== "alarm";
    $("decision").hidden = view !== "decision";
    $("tap").hidden = view !== "tap";
  }

  function renderState() {
    if (!state) return;
    $("zone").textContent = state.zone.name;
    $("clock").textContent = state.clock.now.slice(11, 19);
    const pill = (id, ok, warn, zhText, enText) => {
      const p = $(id); p.className = "pill " + (ok ? "ok" : warn ? "warn" : "bad"); p.textContent = zh() ? zhText : enText;
    };
    pill("pill-clock", state.clock.trusted, false, state.clock.trusted ? "时钟已同步" : "时钟未同步", state.clock.trusted ? "clock synced" : "clock not synced");
    pill("pill-gps", state.gps.ok && !state.gps.warn, state.gps.ok, state.gps.ok ? "定位正常" : "定位异常", state.gps.ok ? "GPS ok" : "GPS problem");
    const linkUp = state.sync.connected === true || state.sync.state === "connected";
    pill("pill-sync", linkUp, state.sync.state === "off", linkUp ? "已联网" : state.sync.state === "off" ? "未配置同步" : "离线运行", linkUp ? "online" : state.sync.state === "off" ? "no sync" : "offline");

    const permits = $("permits"); permits.replaceChildren();
    if (!state.permits.length) permits.append(el("li", "meta", zh() ? "无作业票" : "No permit"));
    if (!state.permits.some((p) => p.permit_id === selected)) selected = state.permits.length ? state.permits[0].permit_id : null;
    for (const p of state.permits) {
      const li = el("li", p.permit_id === selected ? "selected" : null);
      li.dataset.permit = p.permit_id;
      li.addEventListener("click", () => { selected = p.permit_id; renderState(); });
      li.append(el("div", null, t(p.kind) + (p.level ? " · " + t(p.level) : "") + "  " + p.permit_id));
      const st = el("div", "meta state-" + p.status.code, t(p.status) + " · " + fmtLeft(p.seconds_left));
      li.append(st);
      permits.append(li);
    }
    const inside = $("inside"); inside.replaceChildren();
    $("inside-count").textContent = state.inside.length;
    for (const w of state.inside) {
      const li = el("li", null, (w.name || w.worker_id) + " · " + t(w.role));
      li.append(el("div", "meta", (zh() ? "进入 " : "since ") + (w.since || "").slice(11, 16)));
      inside.append(li);
    }
    const air = $("air"), a = state.air;
    air.className = "air " + (!a.safe ? "bad" : !a.monitoring_ok || a.latched ? "warn" : "ok");
    air.textContent = !a.safe ? (zh() ? "气体超标" : "Dangerous air")
      : a.reasons.length ? a.reasons.map((r) => t(r)).join("；") : (zh() ? "空气正常" : "Air normal");
    const body = $("gas").tBodies[0]; body.replaceChildren();
    for (const g of state.gas) {
      const tr = el("tr");
      tr.dataset.gas = g.gas;
      const over = g.limits && g.value != null && g.limits.unit === g.unit &&
        ((g.gas === "o2" && (g.value < g.limits.low || g.value > g.limits.high)) || (g.gas !== "o2" && g.limits.high != null && g.value >= g.limits.high));
      const low = g.limits && g.gas !== "o2" && g.limits.low != null && g.limits.unit === g.unit && g.value != null && g.value >= g.limits.low;
      tr.className = over || g.health ? "bad" : low ? "warn" : "";
      tr.append(el("td", null, g.gas.toUpperCase().replace("_", ".")));
      tr.append(el("td", "v", fmtNum(g.value) + " " + g.unit));
      const lim = g.limits ? (g.gas === "o2" ? g.limits.low + "–" + g.limits.high : (g.limits.low ?? "—") + " / " + (g.limits.high ?? "—")) + " " + g.limits.unit : "—";
      tr.append(el("td", null, g.indicator ? (zh() ? "仅供指示" : "indicator only") : (zh() ? "限值 " : "limit ") + lim));
      tr.append(el("td", null, g.health ? t(g.health) : (zh() ? "正常" : "ok")));
      body.append(tr);
    }
    renderAlarm();
  }

  function renderAlarm() {
    const al = state && state.alarm;
    if (!al) return;
    $("a-title").textContent = al.active ? (zh() ? "气体报警" : "GAS ALARM") : (zh() ? "报警待确认" : "ALARM NOT ACKNOWLEDGED");
    $("a-gas").textContent = (al.gas || "").toUpperCase() + " " + fmtNum(al.value) + " " + (al.unit || "") +
      "  (" + (zh() ? "限值 " : "limit ") + (al.threshold ?? "—") + " " + (al.unit || "") + ")";
    $("a-instruction").textContent = zh() ? al.instruction_zh : al.instruction_en;
    const ul = $("a-inside"); ul.replaceChildren();
    if (!al.inside.length) ul.append(el("li", null, zh() ? "区域内无人" : "Nobody inside"));
    for (const w of al.inside) ul.append(el("li", null, (w.name || w.worker_id)));
    $("a-ack").textContent = zh() ? "报警须由安全员确认后解除" : "Only the safety officer's acknowledgement ends the alarm";
  }

  function renderDecision() {
    if (!decision) return;
    const d = decision, box = $("decision");
    box.className = "overlay decision " + (d.allowed ? "allowed" : "denied");
    box.dataset.allowed = d.allowed ? "true" : "false";
    box.dataset.seq = d.seq;
    $("d-verdict").textContent = d.allowed ? (d.action === "badge_out" ? (zh() ? "已离开" : "EXIT") : (zh() ? "准许进入" : "ADMITTED")) : (zh() ? "禁止进入" : "DENIED");
    $("d-name").textContent = d.name || d.badge_id;
    const message = zh() ? d.message_zh : d.message_en;
    // A refusal's message is its reasons joined: shown once, in the list with the next steps.
    $("d-message").textContent = d.reasons.some((r) => message.includes(t(r))) ? "" : message;
    const rs = $("d-reasons"); rs.replaceChildren();
    for (const r of d.reasons) {
      const li = el("li", null, t(r)); li.dataset.code = r.code;
      li.append(el("span", "next", t(r, "next"))); rs.append(li);
    }
    const ws = $("d-warnings"); ws.replaceChildren();
    for (const w of d.warnings) { const li = el("li", null, t(w) + " — " + t(w, "next")); li.dataset.code = w.code; ws.append(li); }
  }

  function renderPending() {
    if (!pending) return;
    $("p-action").textContent = actionName(pending.action);
    $("p-permit").textContent = pending.permit_id || "";
  }

  function renderOutcome() {
    if (!outcome) return;
    const o = outcome, box = $("outcome");
    box.className = "overlay decision " + (o.ok ? "allowed" : "denied");
    box.dataset.ok = o.ok ? "true" : "false";
    $("o-verdict").textContent = actionName(o.action) + (o.ok ? (zh() ? " 完成" : ": done") : (zh() ? " 被拒绝" : ": refused"));
    $("o-name").textContent = o.name || o.worker_id || "";
    $("o-message").textContent = o.reasons.length ? "" : (zh() ? o.message_zh || "" : o.message_en || "");
    const rs = $("o-reasons"); rs.replaceChildren();
    for (const r of o.reasons) {  // every failing check, each with what to do
      const li = el("li", null, t(r)); li.dataset.code = r.code;
      const next = r.next_zh ? t(r, "next") : (K.next && K.next[r.code] ? K.next[r.code][zh() ? 0 : 1] : "");
      if (next) li.append(el("span", "next", next));
      rs.append(li);
    }
  }

  async function act(action) {
    if (pending || K.readonly) return;
    pending = { action, permit_id: selected };
    renderPending(); setView();
    const url = action === "gas_test" ? "/api/v1/gas-tests" : "/api/v1/actions";
    const body = action === "gas_test" ? { mode: "fixed", permit_id: selected } : { action, permit_id: selected };
    let result;
    try {
      const resp = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      result = await resp.json();
    } catch (err) {
      result = { ok: false, reasons: [{ code: "NO_ANSWER", zh: "网关无应答", en: "The gateway did not answer" }] };
    }
    pending = null; tapBadge = null; K.armed = false; document.body.dataset.armed = "false";
    outcome = { action, ok: !!result.ok, name: result.name, worker_id: result.worker_id,
      message_zh: result.message_zh, message_en: result.message_en, reasons: result.reasons || [] };
    K.actions.push({ action, ok: outcome.ok, reasons: outcome.reasons.map((r) => r.code), shown_ms: Date.now() });
    renderOutcome(); setView();
    clearTimeout(outcomeTimer);
    outcomeTimer = setTimeout(() => { outcome = null; setView(); }, Math.max(showS, 10) * 1000);
  }

  function render() { words(); renderState(); renderDecision(); renderPending(); renderOutcome(); setView(); }

  function onState(s) {
    if (K.boot_id && s.boot_id !== K.boot_id) K.boots.push(s.boot_id);
    const wasAlarm = state && state.alarm;
    state = s; K.boot_id = s.boot_id;
    if (s.alarm && !wasAlarm) K.alarms += 1;
    renderState(); setView();
  }
  function onTap(m) {
    tapBadge = m.badge_id; $("tap-badge").textContent = m.badge_id;
    clearTimeout(tapTimer); tapTimer = setTimeout(() => { tapBadge = null; setView(); }, 15000);
    setView();
  }
  function onDecision(d) {
    tapBadge = null; clearTimeout(tapTimer);
    decision = d; renderDecision(); setView();
    K.decisions.push({ seq: d.seq, badge_id: d.badge_id, allowed: d.allowed, shown_ms: Date.now() });
    clearTimeout(decisionTimer);
    decisionTimer = setTimeout(() => { decision = null; setView(); }, showS * 1000);
  }

  function connect() {
    source = new EventSource("/kiosk/events");
    const on = (name, fn) => source.addEventListener(name, (e) => { try { fn(JSON.parse(e.data)); } catch (err) { console.error(name, err); } });
    on("settings", (s) => { showS = s.decision_show_s; K.next = s.next || {}; K.actionsAvailable = !!s.actions; K.readonly = s.readonly; if (!K.settled) { K.lang = s.language; K.settled = true; render(); } });
    on("hello", () => { K.connected = true; retryMs = 500; document.body.dataset.conn = "open"; $("offline").hidden = true; });
    on("state", onState);
    on("tap", onTap);
    on("decision", onDecision);
    on("armed", (a) => { if (pending && pending.action === a.action) { K.armed = true; document.body.dataset.armed = "true"; } });
    source.onerror = () => {
      K.connected = false; document.body.dataset.conn = "down";
      const off = $("offline"); off.hidden = false;
      off.textContent = zh() ? "与网关的连接中断，正在重连…" : "Lost the gateway; reconnecting…";
      // The browser retries by itself while the stream merely dropped; if it gave up (the
      // daemon answered with an error while starting), open a new stream with backoff.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryMs); retryMs = Math.min(retryMs * 2, 5000);
      }
    };
  }

  $("lang").addEventListener("click", () => { K.lang = zh() ? "en" : "zh-CN"; render(); });
  $("d-close").addEventListener("click", () => { decision = null; clearTimeout(decisionTimer); setView(); });
  $("o-close").addEventListener("click", () => { outcome = null; clearTimeout(outcomeTimer); setView(); });
  document.querySelectorAll("#actions button").forEach((b) => b.addEventListener("click", () => act(b.dataset.action)));
  words();
  connect();
})();
