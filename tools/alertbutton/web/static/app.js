// alertbutton web: the technician's page. Plain JS, no framework, no build step, nothing fetched from
// elsewhere. Every check and every message comes from the server (the CLI's own modules); this file only
// shows them. The PIN is read from its field when a button is pressed, sent once, and the field emptied:
// it is never kept by the page (no storage, no cookie of ours; the access token is an HttpOnly cookie).
"use strict";

const T = {
  fr: {
    yes: "oui", no: "non", unknown: "inconnu", none: "aucune",
    not_configured: "NON CONFIGURÉ : aucun contact — ce bouton n'alerte personne",
    configured_n: "oui, {n} contact(s) sur 5",
    modem_ready: "modem prêt", modem_not_ready: "modem pas prêt", registered: "inscrit au réseau",
    not_registered: "pas inscrit au réseau", ago: "il y a {t}", age_unknown: "âge inconnu",
    power_normal: "normal", power_low: "basse consommation", modem_mode: "modem : {m}",
    power_locked: "déverrouiller pour le voir", power_off: "pas de comptage d'énergie",
    flash_from_selftest: "{v} (autotest)", flash_run: "lancer l'autotest pour la mesurer",
    parts: {button: "bouton", battery: "batterie", flash: "mémoire flash", heap: "mémoire vive", clock: "horloge",
            accelerometer: "accéléromètre", microphone: "microphone", modem: "modem", sim: "carte SIM", signal: "signal",
            network: "réseau", operator: "opérateur", gnss: "GPS", vibration: "vibration",
            evidence_keys: "clés des preuves"},
    pos_unknown: "inconnue", still_recording: "enregistrement en cours : l'exporter quand il sera terminé",
    flash_free: "{v}", flash_locked: "déverrouiller pour la voir", units: ["Ko", "Mo", "Go"],
    power_awake: "toujours éveillé (pas de gestion d'énergie)",
    modem_modes: {on: "toujours allumé", ready: "prêt, en veille", off: "éteint entre deux usages"},
    no_pin: "aucun code PIN défini", locked: "verrouillée", unlocked: "déverrouillée",
    lockout: "bloquée encore {s} s (trop de codes faux)",
    alert_line: "n° {id} ({kind}), {state}", no_alert: "aucune depuis le démarrage",
    slot_n: "Emplacement {n}", number: "Numéro", name: "Nom", save: "Enregistrer", clear: "Vider",
    saved: "enregistré", cleared: "vidé", empty: "(vide)", checking: "vérification…",
    name_missing: "numéro valable ; le nom manque",
    unlocked_for: "déverrouillé pour {m} min d'inactivité", locked_done: "verrouillé",
    pins_differ: "les deux codes diffèrent", pin_done: "code PIN enregistré",
    in_sms: "dans les SMS : {v}", no_name: "(pas de nom)", lang_done: "langue des SMS : {v}",
    position_used: "Position dans le SMS : {p}", pos_last: "la dernière connue", pos_none: "aucune (pas de position GPS connue)",
    sms_one: "1 SMS ({u} caractères sur {l})", sms_many: "{n} SMS enchaînés ({u} caractères : plus que les {l} d'un seul SMS)",
    kind_mobile: "mobile", kind_landline: "fixe", kind_VoIP: "VoIP",
    alert_kind: {alert: "alerte", fall: "chute", test: "test"}, saved_as: "enregistré :",
    g_presses: "{a} : {n} appuis", g_within: "en {ms} ms", g_gap: "{ms} ms au plus entre deux appuis",
    g_held: "chaque appui de {min} à {max} ms", g_hold: "{a} : appui long de {ms} ms",
    g_hold_taps: "{a} : appui long d'au moins {ms} ms, relâcher, puis {n} tapes ({gap} ms au plus entre deux)",
    g_action: {alert: "alerte", cancel: "annulation", test: "test", arm_evidence: "enregistrer avant l'alerte"},
    test_sent: "alerte de test n° {id} envoyée aux emplacements {slots} : {to}",
    choose_slot: "choisissez au moins un emplacement",
    selftest_ok: "autotest réussi : les {n} parties", selftest_fail: "AUTOTEST ÉCHOUÉ : {k} partie(s) sur {n} ({parts})",
    pass: "réussi", fail: "ÉCHEC", not_run: "non lancé", vib_hint: "cochez « avec une vibration » pour sentir une impulsion",
    running: "en cours…", logs_empty: "(vide)",
    // refusals whose words are the page's own (the button's name console commands a technician never types)
    err: {NOPIN: "aucun code PIN n'est encore défini : choisissez-en un d'abord (Session technicien)",
          LOCKED: "le bouton est verrouillé : déverrouillez-le avec le code PIN (Session technicien)",
          BUSY: "le bouton est occupé par une demande plus longue (autotest ou export des preuves, peut-être dans un autre onglet) : réessayez quand elle sera finie",
          SEALED: "les enregistrements sont scellés pour l'association : seule sa clé secrète les ouvre. Arrêtez cette page (Ctrl-C) et relancez-la avec le fichier de clé de l'association : alertbutton web --association-key FICHIER"},
    key_none: "aucune (les enregistrements ne sont pas scellés)", key_saved: "✓ enregistrée sur le bouton : {k}",
    key_same: "c'est la clé avec laquelle cette page a été lancée", key_other: "ATTENTION : ce n'est pas la clé avec laquelle cette page a été lancée ({k})",
    verified_with: "Vérifié avec la clé que le bouton annonce : {k} — l'association doit la comparer avec celle qu'elle a enregistrée.",
    key_file_big: "{f} fait {n} octets : le fichier .pub de l'association en fait 65 (rien n'a été envoyé)",
    anchored: "ancré", not_anchored: "NON ancré", anchor: "Ancrage",
    not_json: "ce fichier n'est pas du JSON valable : {e}",
    too_big: "ce fichier fait {n} Ko : une configuration en fait quelques-uns (rien n'a été lu ni écrit)", no_file: "choisissez un fichier",
    imported: "configuration importée ({keys}) : {n} contacts",
    exported_none: "aucun enregistrement", rec: "Enregistrement {n}", verified_ok: "VÉRIFIÉ : chaîne intacte",
    problems: "PROBLÈMES", chain_head: "tête de chaîne", manifest_sha: "SHA-256 du manifeste", report: "rapport complet",
    chunk: "Morceau", start: "Début (UTC)", duration: "Durée", position: "Position", verdict: "Vérification",
    skipped: "ignoré : {why}", reset_done: "réinitialisé : NON CONFIGURÉ ({n} fichier(s) effacé(s))",
    // the outbox's states (firmware/alert/outbox.py) and the alert's own
    st_state: {idle: "terminée", pending: "en attente", sending: "envoi en cours", accepted: "accepté par le réseau",
               delivered: "remis au téléphone", failed: "ÉCHEC (définitif)", dropped: "non envoyé (alerte arrêtée)"},
  },
  en: {
    yes: "yes", no: "no", unknown: "unknown", none: "none",
    not_configured: "NOT CONFIGURED: no contact — this button alerts nobody",
    configured_n: "yes, {n} of 5 contacts",
    modem_ready: "modem ready", modem_not_ready: "modem not ready", registered: "registered",
    not_registered: "not registered", ago: "{t} ago", age_unknown: "age unknown",
    power_normal: "normal", power_low: "low power", modem_mode: "modem: {m}",
    power_locked: "unlock to see it", power_off: "no power accounting",
    flash_from_selftest: "{v} (self-test)", flash_run: "run the self-test to measure it",
    parts: {gnss: "GNSS", evidence_keys: "evidence keys"}, pos_unknown: "unknown", still_recording: "still being recorded: export it when it ends",
    flash_free: "{v}", flash_locked: "unlock to see it", units: ["KB", "MB", "GB"],
    power_awake: "always awake (no power management)",
    modem_modes: {on: "always on", ready: "ready, idle", off: "off between uses"},
    no_pin: "no PIN set", locked: "locked", unlocked: "unlocked",
    lockout: "locked out for {s} s more (too many wrong PINs)",
    alert_line: "#{id} ({kind}), {state}", no_alert: "none since boot",
    slot_n: "Slot {n}", number: "Number", name: "Name", save: "Save", clear: "Clear",
    saved: "saved", cleared: "cleared", empty: "(empty)", checking: "checking…",
    name_missing: "valid number; the name is missing",
    unlocked_for: "unlocked for {m} min of inactivity", locked_done: "locked",
    pins_differ: "the two PINs differ", pin_done: "PIN set",
    in_sms: "in the SMS: {v}", no_name: "(no name)", lang_done: "SMS language: {v}",
    position_used: "Position in the SMS: {p}", pos_last: "the last known one", pos_none: "none (no GPS position known)",
    sms_one: "1 SMS ({u} characters of {l})", sms_many: "{n} linked SMS ({u} characters: more than the {l} of one SMS)",
    kind_mobile: "mobile", kind_landline: "landline", kind_VoIP: "VoIP",
    alert_kind: {alert: "alert", fall: "fall", test: "test"}, saved_as: "saved:",
    g_presses: "{a}: {n} presses", g_within: "within {ms} ms", g_gap: "at most {ms} ms between presses",
    g_held: "each press {min} to {max} ms", g_hold: "{a}: hold {ms} ms",
    g_hold_taps: "{a}: hold at least {ms} ms, let go, then {n} taps (at most {gap} ms apart)",
    g_action: {alert: "alert", cancel: "cancel", test: "test", arm_evidence: "record before the alert"},
    test_sent: "test alert #{id} sent to slots {slots}: {to}",
    choose_slot: "choose at least one slot",
    selftest_ok: "self-test passed: all {n} parts", selftest_fail: "SELF-TEST FAILED: {k} of {n} parts ({parts})",
    pass: "pass", fail: "FAIL", not_run: "not run", vib_hint: "tick “with one vibration” to feel one pulse",
    running: "running…", logs_empty: "(empty)",
    not_json: "this file is not valid JSON: {e}", no_file: "choose a file",
    err: {SEALED: "the recordings are sealed to the association: only its secret key opens them. Stop this page (Ctrl-C) and start it again with the association's key file: alertbutton web --association-key FILE"},
    key_none: "none (recordings are not sealed)", key_saved: "✓ saved on the button: {k}",
    key_same: "it is the key this page was started with", key_other: "WARNING: it is not the key this page was started with ({k})",
    verified_with: "Verified with the key the button reports: {k} — the association must compare it with the one it registered.",
    key_file_big: "{f} is {n} bytes: the association's .pub file is 65 (nothing was sent)",
    anchored: "anchored", not_anchored: "NOT anchored", anchor: "Anchor",
    too_big: "this file is {n} KB: a configuration is a few (nothing was read nor written)",
    imported: "configuration imported ({keys}): {n} contacts",
    exported_none: "no recordings", rec: "Recording {n}", verified_ok: "VERIFIED: chain intact",
    problems: "PROBLEMS", chain_head: "chain head", manifest_sha: "manifest SHA-256", report: "full report",
    chunk: "Chunk", start: "Start (UTC)", duration: "Duration", position: "Position", verdict: "Check",
    skipped: "skipped: {why}", reset_done: "reset: NOT CONFIGURED ({n} file(s) erased)",
    st_state: {idle: "over", pending: "pending", sending: "sending", accepted: "accepted by the network",
               delivered: "delivered to the phone", failed: "FAILED (permanent)", dropped: "not sent (alert stopped)"},
  },
};
// the static labels of index.html in English (French is what the HTML holds)
const EN_LABELS = {
  title: "Alert button — technician's page", nav_status: "Status", nav_session: "Session", nav_contacts: "Contacts",
  nav_wearer: "Wearer", nav_preview: "Preview", nav_test: "Test", nav_selftest: "Self-test", nav_logs: "Logs",
  nav_config: "Configuration", nav_keys: "Keys", nav_evidence: "Evidence", nav_reset: "Reset",
  keys: "Evidence keys", keys_read: "Read the button's keys", device_key: "Button's key (Ed25519)",
  assoc_key_now: "Association's key on the button",
  device_key_help: "This is the key the button reports: the association must compare it with the one it registered for this button (a replaced or tampered button would report another).",
  assoc_key_set: "Association's public key (64 hex characters)", assoc_file: "or its .pub file", assoc_do: "Save on the button",
  status: "Button status", st_configured: "Configured", st_firmware: "Firmware", st_battery: "Battery",
  st_signal: "Signal", st_registration: "Network", st_fix: "Last position", st_power: "Power mode",
  st_flash: "Free flash", st_session: "Technician session", st_alert: "Last alert", refresh: "Refresh",
  session: "Technician session (PIN)", pin: "PIN", unlock: "Unlock", lock: "Lock",
  pin_set_legend: "Set or change the PIN (4 to 8 digits)", pin_current: "Current PIN (if one is set)",
  pin_new: "New PIN", pin_again: "Again", pin_set: "Set the PIN",
  contacts: "The five trusted contacts", reload: "Read again from the button",
  contacts_help: "Each number is checked as you type, with the same rules as the alertbutton command.",
  wearer: "Wearer, language and gesture", wearer_name: "Wearer's name (in the SMS)", save: "Save",
  sms_lang: "SMS language", gesture_now: "Current gestures:", gesture_set: "New gesture",
  preview: "SMS preview", preview_kind: "Kind of message", kind_alert: "alert", kind_fall: "fall", kind_test: "test",
  show: "Show", test: "Test alert", test_slots: "Send a “TEST” SMS to slots:", send_test: "Send the test",
  slot: "Slot", name: "Name", state: "State", selftest: "Self-test, part by part",
  vibrate: "with one vibration (never while the wearer has it)", run: "Run", part: "Part", result: "Result",
  value: "Value", note: "Note", logs: "Logs (numbers masked)", logs_n: "Number of events (1 to 64)",
  time: "Time", event: "Event", details: "Details", config: "Configuration (many buttons alike)",
  config_export: "Export (download the JSON file, without the PIN)",
  config_import: "Import a file (checked whole before anything is written)", import: "Import",
  evidence: "Sound evidence", evidence_export: "Export and verify", reset: "Factory reset",
  reset_help: "Erases the contacts, the wearer, the PIN, the log, the positions, the recordings and the credentials. Type “erase” to confirm.",
  reset_confirm: "Confirmation", reset_do: "Erase everything",
};
const FR_LABELS = {};
let lang = "fr";
let lastSelftestFlash = null;
let lastStatus = null;
let testPoll = null;

const $ = (id) => document.getElementById(id);
function t(key, vars) {
  let s = (T[lang][key] !== undefined ? T[lang][key] : T.fr[key]);
  for (const k in (vars || {})) s = s.split("{" + k + "}").join(String(vars[k]));
  return s;
}
function stateWord(s) { return (T[lang].st_state || {})[s] || s; }
function word(table, w) { return (T[lang][table] || {})[w] || w; }  // a word of the button's, said in the page's language
function country(v) { return (v.countries && v.countries[lang]) || v.country; }
function kindWord(k) { return T[lang]["kind_" + k] || k; }
function smsCount(m) { return m.segments === 1 ? t("sms_one", {u: m.units, l: m.limit}) : t("sms_many", {n: m.segments, u: m.units, l: m.limit}); }
function el(tag, props, children) {
  const e = document.createElement(tag);
  for (const k in (props || {})) {
    if (k === "text") e.textContent = props[k];
    else if (k === "cls") e.className = props[k];
    else e.setAttribute(k, props[k]);
  }
  for (const c of (children || [])) e.append(c);
  return e;
}
// What the page wrote from the server's answers, kept as functions so the language switch rewrites it
const rerender = {};
function live(id, fn) { rerender[id] = fn; fn(); }
function say(id, text) { delete rerender[id]; const e = $(id); e.textContent = text || ""; e.classList.remove("note-ok"); }

async function api(method, path, body) {
  const opt = {method, headers: {}, credentials: "same-origin"};
  if (body !== undefined) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
  let r;
  try { r = await fetch(path, opt); } catch (e) {
    const err = new Error("alertbutton web does not answer (stopped?): " + e.message); err.data = {}; throw err;
  }
  let data;
  try { data = await r.json(); } catch (e) { data = {message: r.status + " " + r.statusText}; }
  if (!r.ok) {
    const own = (T[lang].err || {})[data.error];  // French for the refusals every section meets; else the button's words
    const err = new Error(own || data.message || String(r.status)); err.data = data; err.status = r.status; throw err;
  }
  return data;
}
// an action's error goes to its section's message line, in the button's own words; never swallowed
async function act(msgId, fn) {
  say(msgId, "");
  try { return await fn(); } catch (e) { say(msgId, e.message); return undefined; }
}

// --- language -------------------------------------------------------------------------------------
function applyLang() {
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll("[data-i18n]")) {
    const k = e.getAttribute("data-i18n");
    if (!(k in FR_LABELS)) FR_LABELS[k] = e.textContent;
    e.textContent = lang === "en" ? (EN_LABELS[k] || FR_LABELS[k]) : FR_LABELS[k];
  }
  const sw = $("lang-switch");
  sw.textContent = lang === "fr" ? "English" : "Français";
  sw.setAttribute("lang", lang === "fr" ? "en" : "fr");
  buildContactRows(true);
  if (lastStatus) renderStatus(lastStatus);
  for (const id in rerender) rerender[id]();
}

// --- status ---------------------------------------------------------------------------------------
function age(s) {
  if (s === null || s === undefined) return t("age_unknown");
  const v = s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h";
  return t("ago", {t: v});
}
function powerLine(p) {
  return (p.low_power ? t("power_low") : t("power_normal")) + (p.modem_mode ? ", " + t("modem_mode", {m: word("modem_modes", p.modem_mode)}) : "");
}
function size(kb) {  // 3072 -> "3 Mo" (fr) / "3 MB" (en)
  let v = kb, i = 0;
  while (v >= 10240 && i < 2) { v /= 1024; i++; }
  return Math.round(v).toLocaleString(lang === "fr" ? "fr-FR" : "en-GB") + " " + T[lang].units[i];
}
function renderStatus(d) {
  const h = d.hello, m = h.modem || {};
  $("st-banner").textContent = h.configured ? "" : t("not_configured");
  $("st-banner").className = "banner" + (h.configured ? "" : " bad");
  say("st-configured", h.configured ? t("configured_n", {n: h.contacts}) : t("no"));
  say("st-firmware", h.firmware + " (" + h.board + ")");
  say("st-battery", h.battery === null || h.battery === undefined ? t("unknown") : h.battery + " %");
  say("st-signal", h.signal_dbm === null || h.signal_dbm === undefined ? t("unknown") : h.signal_dbm + " dBm");
  say("st-registration", (m.ready ? t("modem_ready") : t("modem_not_ready")) + ", " +
      (m.registered ? t("registered") : t("not_registered")));
  const f = h.last_fix;
  say("st-fix", f ? f.lat.toFixed(5) + ", " + f.lon.toFixed(5) + " (±" + (f.acc_m || 0) + " m, " + age(f.age_s) + ")"
      : t("none"));
  // the button's hello tells both to an unlocked session (flash_free_kb, power_mode); an older firmware
  // only through the power accounting and the self-test
  const p = h.power_mode || d.power;
  say("st-power", !p ? t("power_locked") : p.error ? p.error : h.power_mode ? (!p.task ? t("power_awake") : powerLine(p))
      : !p.enabled ? t("power_off") : powerLine(p));
  say("st-flash", typeof h.flash_free_kb === "number" ? t("flash_free", {v: size(h.flash_free_kb)})
      : "flash_free_kb" in h ? t("flash_locked")
      : lastSelftestFlash ? t("flash_from_selftest", {v: lastSelftestFlash}) : t("flash_run"));
  say("st-session", !h.pin_set ? t("no_pin") : h.lockout_s ? t("lockout", {s: h.lockout_s})
      : h.unlocked ? t("unlocked") : t("locked"));
  const a = h.last_alert;
  say("st-alert", a ? t("alert_line", {id: a.id, kind: word("alert_kind", a.kind), state: stateWord(a.state)}) : t("no_alert"));
}
async function refreshStatus() {
  const d = await act("st-msg", () => api("GET", "/api/status"));
  if (d) { lastStatus = d; renderStatus(d); }
  return d;
}

// --- session --------------------------------------------------------------------------------------
async function unlock(ev) {
  ev.preventDefault();
  const pin = $("unlock-pin").value;
  $("unlock-pin").value = "";  // forgotten at once
  const r = await act("session-msg", () => api("POST", "/api/unlock", {pin}));
  if (r) { note("session-msg", () => t("unlocked_for", {m: Math.round(r.session_s / 60)})); await afterUnlock(); }
  else await refreshStatus();
}
function note(id, fn) {  // a success line in a message slot (fn gives its text in the current language)
  live(id, () => { const e = $(id); e.textContent = fn(); e.classList.add("note-ok"); });
}
async function lock() {
  const r = await act("session-msg", () => api("POST", "/api/lock", {}));
  if (r) note("session-msg", () => t("locked_done"));
  await refreshStatus();
}
async function setPin(ev) {
  ev.preventDefault();
  const current = $("pin-current").value, fresh = $("pin-new").value, again = $("pin-again").value;
  for (const id of ["pin-current", "pin-new", "pin-again"]) $(id).value = "";
  if (fresh !== again) { say("session-msg", t("pins_differ")); return; }
  const body = {new: fresh};
  if (current) body.current = current;
  const r = await act("session-msg", () => api("POST", "/api/pin", body));
  if (r) { note("session-msg", () => t("pin_done")); await afterUnlock(); }
}
async function afterUnlock() {
  await refreshStatus();
  await loadContacts();
  await loadSettings();
  await loadKeys();
}

// --- contacts -------------------------------------------------------------------------------------
const timers = {};
const seq = {};  // per slot: an answer to an older check or save is not shown over a newer one
let slotsCache = [];
function buildContactRows(keepValues) {
  const box = $("contact-rows");
  const old = {};
  if (keepValues) for (let n = 1; n <= 5; n++) {
    if ($("c" + n + "-number")) old[n] = [$("c" + n + "-number").value, $("c" + n + "-name").value,
                                         $("c" + n + "-check").textContent, $("c" + n + "-check").className];
  }
  box.textContent = "";
  for (let n = 1; n <= 5; n++) {
    const check = el("p", {id: "c" + n + "-check", cls: "check", "aria-live": "polite"});
    const num = el("input", {id: "c" + n + "-number", autocomplete: "off", inputmode: "tel",
                             "aria-describedby": "c" + n + "-check"});
    const name = el("input", {id: "c" + n + "-name", autocomplete: "off", maxlength: "40",
                              "aria-describedby": "c" + n + "-check"});
    const save = el("button", {type: "button", id: "c" + n + "-save", text: t("save")});
    const clear = el("button", {type: "button", id: "c" + n + "-clear", text: t("clear")});
    box.append(el("div", {cls: "contact", id: "contact-" + n, role: "group", "aria-labelledby": "c" + n + "-title"}, [
      el("div", {cls: "slot"}, [el("strong", {id: "c" + n + "-title", text: t("slot_n", {n})})]),
      el("div", {}, [el("label", {for: "c" + n + "-number", text: t("number")}), num]),
      el("div", {}, [el("label", {for: "c" + n + "-name", text: t("name")}), name]),
      el("div", {cls: "actions"}, [save, clear]),
      check]));
    if (old[n]) { num.value = old[n][0]; name.value = old[n][1]; check.textContent = old[n][2]; check.className = old[n][3]; }
    num.addEventListener("input", () => liveCheck(n));
    name.addEventListener("input", () => liveCheck(n));
    save.addEventListener("click", () => saveContact(n));
    clear.addEventListener("click", () => clearContact(n));
  }
  buildTestSlots();
}
function shown(v) {
  return v.national + " — " + country(v) + ", " + kindWord(v.kind) + " (" + v.international + ")" +
    (v.warnings && v.warnings.length ? " — " + v.warnings.join("; ") : "");
}
function setCheck(n, ok, text, field) {  // text: the server's words, or a function of the language
  live("c" + n + "-check", () => {
    const c = $("c" + n + "-check");
    c.textContent = typeof text === "function" ? text() : text;
    c.className = "check " + (ok ? "ok" : "bad");
    $("c" + n + "-number").setAttribute("aria-invalid", String(!ok && field === "number"));
    $("c" + n + "-name").setAttribute("aria-invalid", String(!ok && field === "name"));
  });
}
function liveCheck(n) {
  clearTimeout(timers[n]);
  timers[n] = setTimeout(async () => {
    const number = $("c" + n + "-number").value, name = $("c" + n + "-name").value;
    const mine = seq[n] = (seq[n] || 0) + 1;
    if (!number.trim() && !name.trim()) { setCheck(n, true, ""); return; }
    try {
      const v = await api("POST", "/api/contacts/check", {slot: n, number, name});
      if (mine === seq[n]) setCheck(n, true, () => "✓ " + shown(v) + (v.name ? "" : " — " + t("name_missing")));
    } catch (e) { if (mine === seq[n]) setCheck(n, false, e.message, (e.data && e.data.field) || "number"); }
  }, 250);
}
async function saveContact(n) {
  clearTimeout(timers[n]);
  const mine = seq[n] = (seq[n] || 0) + 1;
  const number = $("c" + n + "-number").value, name = $("c" + n + "-name").value;
  setCheck(n, true, () => t("checking"));
  try {
    const r = await api("POST", "/api/contacts/set", {slot: n, number, name});
    if (mine === seq[n]) setCheck(n, true, () => "✓ " + t("saved_as") + " " + r.name + " — " + shown(r));
    $("c" + n + "-number").value = r.international;
    $("c" + n + "-name").value = r.name;
    await loadContacts(true);
    await refreshStatus();
  } catch (e) { if (mine === seq[n]) setCheck(n, false, e.message, (e.data && e.data.field) || "number"); }
}
async function clearContact(n) {
  clearTimeout(timers[n]);
  seq[n] = (seq[n] || 0) + 1;
  try {
    await api("POST", "/api/contacts/clear", {slot: n});
    $("c" + n + "-number").value = ""; $("c" + n + "-name").value = "";
    setCheck(n, true, () => t("cleared"));
    await loadContacts(true);
    await refreshStatus();
  } catch (e) { setCheck(n, false, e.message, (e.data && e.data.field) || "number"); }
}
async function loadContacts(keepFields) {
  const r = await act("contacts-msg", () => api("GET", "/api/contacts"));
  if (!r) return;
  slotsCache = r.slots;
  if (!keepFields) for (const s of r.slots) {
    $("c" + s.slot + "-number").value = s.number ? s.international : "";
    $("c" + s.slot + "-name").value = s.name || "";
    if (s.number) setCheck(s.slot, true, "✓ " + shown(s)); else setCheck(s.slot, true, () => t("empty"));
  }
  buildTestSlots();
}

// --- wearer, language, gesture --------------------------------------------------------------------
function gestureText(g) {
  const a = word("g_action", g.action);
  if ("presses" in g) {
    const parts = [t("g_presses", {a, n: g.presses})];
    if ("within_ms" in g) parts.push(t("g_within", {ms: g.within_ms}));
    if ("gap_ms" in g) parts.push(t("g_gap", {ms: g.gap_ms}));
    if (g.min_press_ms || g.max_press_ms) parts.push(t("g_held", {min: g.min_press_ms || 0, max: g.max_press_ms || "∞"}));
    return parts.join(", ");
  }
  if ("taps" in g) return t("g_hold_taps", {a, ms: g.hold_ms, n: g.taps, gap: g.gap_ms});
  return t("g_hold", {a, ms: g.hold_ms});
}
function showWearer(w) {
  $("wearer-name").value = w.wearer || "";
  live("wearer-insms", () => { $("wearer-insms").textContent = t("in_sms", {v: w.in_sms || t("no_name")}) +
    (w.warnings && w.warnings.length ? " — " + w.warnings.join("; ") : ""); });
}
async function loadSettings() {
  const r = await act("wearer-msg", () => api("GET", "/api/settings"));
  if (!r) return;
  showWearer(r.wearer);
  $("sms-lang").value = r.lang.lang;
  live("gesture-now", () => { $("gesture-now").textContent = r.gesture.gestures.map(gestureText).join(" · "); });
}
async function saveWearer(ev) {
  ev.preventDefault();
  const r = await act("wearer-msg", () => api("POST", "/api/wearer", {name: $("wearer-name").value}));
  if (r) showWearer(r);
}
async function saveLang(ev) {
  ev.preventDefault();
  const r = await act("wearer-msg", () => api("POST", "/api/lang", {lang: $("sms-lang").value}));
  if (r) note("wearer-msg", () => t("lang_done", {v: r.lang}) + (r.warnings && r.warnings.length ? " — " + r.warnings.join("; ") : ""));
}
async function saveGesture(ev) {
  ev.preventDefault();
  const r = await act("wearer-msg", () => api("POST", "/api/gesture", {words: $("gesture-words").value}));
  if (r) live("gesture-now", () => { $("gesture-now").textContent = r.gestures.map(gestureText).join(" · "); });
}

// --- preview --------------------------------------------------------------------------------------
async function preview(ev) {
  if (ev) ev.preventDefault();
  const r = await act("preview-msg", () => api("GET", "/api/preview?kind=" + encodeURIComponent($("preview-kind").value)));
  if (r) live("preview-list", () => renderPreview(r));
}
function renderPreview(r) {
  const box = $("preview-list");
  box.textContent = "";
  say("preview-position", t("position_used", {p: r.position === "none" ? t("pos_none")
      : r.position === "last known" ? t("pos_last") : r.position}));
  for (const m of r.messages) {
    box.append(el("div", {cls: "sms", id: "preview-" + m.slot}, [
      el("div", {}, [el("strong", {text: t("slot_n", {n: m.slot}) + " — " + m.name}),
                     document.createTextNode(" · " + m.shown.national + " — " + country(m.shown) + " (" + m.shown.international + ")")]),
      el("pre", {id: "preview-text-" + m.slot, "data-to": m.to, text: m.text}),
      el("div", {cls: m.error ? "msg" : "note", text: smsCount(m)
                 + (m.error ? " — " + m.error : "")})]));
  }
  if (r.warnings && r.warnings.length) box.append(el("p", {cls: "msg", text: r.warnings.join("; ")}));
}

// --- test alert -----------------------------------------------------------------------------------
function written(e164) {  // a number as the contacts list shows it ("07 52 34 56 02"), else as sent
  const s = slotsCache.find((x) => x.number === e164);
  return s && s.national ? s.national : e164;
}
function buildTestSlots() {
  const box = $("test-slots");
  const checked = new Set([...box.querySelectorAll("input:checked")].map((e) => e.value));
  box.textContent = "";
  for (let n = 1; n <= 5; n++) {
    const s = slotsCache.find((x) => x.slot === n);
    const cb = el("input", {type: "checkbox", id: "test-slot-" + n, value: String(n)});
    if (checked.has(String(n))) cb.checked = true;
    box.append(el("span", {}, [cb, el("label", {for: "test-slot-" + n,
      text: n + (s && s.name ? " " + s.name : " " + t("empty"))})]));
  }
}
async function testAlert(ev) {
  ev.preventDefault();
  const slots = [...$("test-slots").querySelectorAll("input:checked")].map((e) => Number(e.value));
  if (!slots.length) { say("test-msg", t("choose_slot")); return; }
  $("test-btn").disabled = true;
  const r = await act("test-msg", () => api("POST", "/api/test-alert", {slots}));
  $("test-btn").disabled = false;
  if (!r) return;
  live("test-result", () => { $("test-result").textContent = t("test_sent", {id: r.alert, slots: r.slots.join(", "), to: r.to.map(written).join(", ")}); });
  clearInterval(testPoll);
  const started = Date.now();
  const tick = async () => {
    const d = await act("test-msg", () => api("GET", "/api/status"));
    if (!d) { clearInterval(testPoll); return; }
    lastStatus = d; renderStatus(d);
    const a = d.hello.last_alert;
    if (a && a.id === r.alert && d.progress) {
      live("test-progress", () => {
        const body = $("test-progress").querySelector("tbody");
        body.textContent = "";
        for (const p of d.progress) body.append(el("tr", {"data-slot": String(p.slot)}, [
          el("td", {text: String(p.slot)}), el("td", {text: p.name || ""}), el("td", {text: stateWord(p.state)})]));
        $("test-progress").hidden = false;
        $("test-progress").setAttribute("data-state", a.state);
      });
      if (a.state === "idle") clearInterval(testPoll);
    }
    if (Date.now() - started > 120000) clearInterval(testPoll);
  };
  testPoll = setInterval(tick, 700);
  tick();
}

// --- self-test ------------------------------------------------------------------------------------
async function selftest(ev) {
  ev.preventDefault();
  const vibrate = $("selftest-vibrate").checked;
  $("selftest-btn").disabled = true;
  say("selftest-verdict", t("running"));
  $("selftest-verdict").className = "banner";
  const r = await act("selftest-msg", () => api("POST", "/api/selftest", {vibrate}));
  $("selftest-btn").disabled = false;
  if (!r) { say("selftest-verdict", ""); return; }
  for (const p of r.parts) if (p.part === "flash") lastSelftestFlash = p.value;
  live("selftest-verdict", () => renderSelftest(r, vibrate));
  if (lastStatus) renderStatus(lastStatus);
}
function renderSelftest(r, vibrate) {
  const body = $("selftest-table").querySelector("tbody");
  body.textContent = "";
  for (const p of r.parts) {
    body.append(el("tr", {"data-part": p.part}, [el("td", {text: word("parts", p.part)}),
      el("td", {cls: p.ok ? "pass" : "fail", text: p.ok ? t("pass") : t("fail")}),
      el("td", {text: p.value}), el("td", {text: p.note || ""})]));
  }
  if (!vibrate) body.append(el("tr", {}, [el("td", {text: word("parts", "vibration")}), el("td", {text: "-"}),
    el("td", {text: t("not_run")}), el("td", {text: t("vib_hint")})]));
  $("selftest-table").hidden = false;
  const failed = r.parts.filter((p) => !p.ok).map((p) => word("parts", p.part));
  $("selftest-verdict").textContent = r.ok ? t("selftest_ok", {n: r.parts.length})
      : t("selftest_fail", {k: failed.length, n: r.parts.length, parts: failed.join(", ")});
  $("selftest-verdict").className = "banner " + (r.ok ? "good" : "bad");
}

// --- logs -----------------------------------------------------------------------------------------
async function logs(ev) {
  ev.preventDefault();
  const r = await act("logs-msg", () => api("GET", "/api/logs?n=" + encodeURIComponent($("logs-n").value)));
  if (!r) return;
  const body = $("logs-table").querySelector("tbody");
  body.textContent = "";
  for (const e of r.lines) {
    const rest = Object.keys(e).filter((k) => !["ms", "event", "contact"].includes(k)).map((k) => k + "=" + e[k]).join(" ");
    body.append(el("tr", {}, [el("td", {text: ((e.ms || 0) / 1000).toFixed(3) + " s"}),
      el("td", {text: e.event || "?"}), el("td", {text: rest})]));
  }
  if (!r.lines.length) body.append(el("tr", {}, [el("td", {text: t("logs_empty")})]));
  $("logs-table").hidden = false;
}

// --- configuration --------------------------------------------------------------------------------
async function exportConfig(ev) {
  ev.preventDefault();
  say("config-msg", "");
  let r;
  try { r = await fetch("/api/config", {credentials: "same-origin"}); } catch (e) { say("config-msg", e.message); return; }
  if (!r.ok) {
    let d = {};
    try { d = await r.json(); } catch (e) { d = {message: r.status + " " + r.statusText}; }
    say("config-msg", d.message); return;
  }
  const blob = await r.blob();
  const a = el("a", {href: URL.createObjectURL(blob), download: "alertbutton-config.json"});
  document.body.append(a); a.click(); a.remove();
}
async function importConfig(ev) {
  ev.preventDefault();
  say("config-result", "");
  const f = $("config-file").files[0];
  if (!f) { say("config-msg", t("no_file")); return; }
  // not read at all when larger than any configuration (the server refuses over 64 KB too)
  if (f.size > 64 * 1024) { say("config-msg", t("too_big", {n: Math.round(f.size / 1024)})); return; }
  const text = (await f.text()).replace(/^\uFEFF/, "");
  let data;
  try { data = JSON.parse(text); } catch (e) { say("config-msg", t("not_json", {e: e.message})); return; }
  const r = await act("config-msg", () => api("POST", "/api/config/import", {config: data}));
  if (r) {
    live("config-result", () => { $("config-result").textContent = t("imported", {keys: r.keys.join(", "), n: r.contacts}) +
      (r.warnings && r.warnings.length ? " — " + r.warnings.join("; ") : ""); });
    await afterUnlock();
  }
}

// --- evidence -------------------------------------------------------------------------------------
async function evidence(ev) {
  ev.preventDefault();
  const pin = $("evidence-pin").value;
  $("evidence-pin").value = "";
  $("evidence-btn").disabled = true;
  say("evidence-device-key", "");
  let r;
  try { say("evidence-msg", ""); r = await api("POST", "/api/evidence/export", {pin}); } catch (e) {
    // sealed without the key: said in the page's language (it switches with it), never a raw error
    if (e.data && e.data.error === "SEALED") live("evidence-msg", () => { $("evidence-msg").textContent = t("err").SEALED; });
    else say("evidence-msg", e.message);
  }
  $("evidence-btn").disabled = false;
  if (r) {
    live("evidence-list", () => renderEvidence(r));
    note("evidence-device-key", () => t("verified_with", {k: r.device_pub}));
  }
}
function renderEvidence(r) {
  const box = $("evidence-list");
  box.textContent = "";
  if (!r.recordings.length) box.append(el("p", {text: t("exported_none")}));
  for (const rec of r.recordings) {
    const part = el("div", {cls: "sms"}, [el("strong", {text: t("rec", {n: rec.rec})})]);
    if (rec.skipped) {
      part.append(el("p", {text: t("skipped", {why: rec.skipped === "active" ? t("still_recording") : rec.skipped})}));
      box.append(part); continue;
    }
    part.append(el("p", {cls: rec.problems.length ? "msg" : "note", text: rec.problems.length
      ? t("problems") + ": " + rec.problems.join("; ") : t("verified_ok")}));
    part.append(el("p", {cls: "note", text: t("chain_head") + " " + rec.chain_head + " · " + t("manifest_sha") + " " + rec.manifest_sha256}));
    // what the verifier says its anchors cover (the signed heads checked with the button's key), in its words
    for (const line of (rec.coverage || [])) part.append(el("p", {cls: "note evidence-coverage", text: line}));
    const rows = rec.chunks.map((c) => {
      const where = c.map ? el("td", {}, [document.createTextNode(c.position.lat.toFixed(5) + ", " + c.position.lon.toFixed(5) + " "),
        el("a", {href: c.map.osm, rel: "noreferrer", target: "_blank", text: "OSM"}), document.createTextNode(" · "),
        el("a", {href: c.map.google, rel: "noreferrer", target: "_blank", text: "Google"})]) : el("td", {text: t("pos_unknown")});
      return el("tr", {}, [el("td", {text: String(c.index)}), el("td", {text: c.start_utc || "?"}),
        el("td", {text: c.duration_s + " s"}), where,
        el("td", {cls: c.problems.length ? "fail" : "pass", text: c.problems.length ? c.problems.join("; ") : "OK"}),
        el("td", {cls: c.anchored ? "pass" : "fail", text: c.anchored ? t("anchored") : t("not_anchored")})]);
    });
    part.append(el("table", {}, [el("thead", {}, [el("tr", {}, ["chunk", "start", "duration", "position", "verdict", "anchor"].map((k) => el("th", {text: t(k)})))]),
      el("tbody", {}, rows)]));
    part.append(el("audio", {controls: "", preload: "none", src: rec.audio}));
    part.append(el("p", {}, [el("a", {href: rec.report, target: "_blank", text: t("report")})]));
    box.append(part);
  }
}

// --- keys -----------------------------------------------------------------------------------------
let lastKeys = null;
function renderKeys() {
  const k = lastKeys;
  if (!k) return;
  say("keys-device", k.device_pub);
  say("keys-assoc", (k.association_pub || t("key_none")) + (k.association_pub && k.server_association_pub
    ? " — " + (k.association_pub === k.server_association_pub ? t("key_same") : t("key_other", {k: k.server_association_pub})) : ""));
}
async function loadKeys() {
  const r = await act("keys-msg", () => api("GET", "/api/keys"));
  if (r) { lastKeys = r; live("keys-view", renderKeys); }
}
function assocCheck(ok, text) {
  live("assoc-check", () => {
    $("assoc-check").textContent = typeof text === "function" ? text() : text;
    $("assoc-check").className = "check " + (ok ? "ok" : "bad");
    $("assoc-key").setAttribute("aria-invalid", String(!ok));
  });
}
async function setAssociation(ev) {
  ev.preventDefault();
  const f = $("assoc-file").files[0];
  let key = $("assoc-key").value, file;
  if (f) {
    if (f.size > 4096) { assocCheck(false, t("key_file_big", {f: f.name, n: f.size})); return; }
    key = await f.text(); file = f.name;
  }
  try {
    const r = await api("POST", "/api/keys/association", file ? {key, file} : {key});
    $("assoc-file").value = ""; $("assoc-key").value = "";
    assocCheck(true, () => t("key_saved", {k: r.association_pub}));
    await loadKeys();
  } catch (e) { assocCheck(false, e.message); }  // the CLI's words, beside the field
}

// --- factory reset --------------------------------------------------------------------------------
async function factoryReset(ev) {
  ev.preventDefault();
  if ($("reset-btn").disabled) return;  // a second click while the first is erasing (Enter too)
  $("reset-btn").disabled = true;
  const confirm = $("reset-confirm").value.trim();
  $("reset-confirm").value = "";
  const r = await act("reset-msg", () => api("POST", "/api/factory-reset", {confirm}));
  if (r) { note("reset-msg", () => t("reset_done", {n: r.files_erased || 0})); await refreshStatus(); await loadContacts(); }
}

// --- wiring ---------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async () => {
  $("lang-switch").addEventListener("click", () => { lang = lang === "fr" ? "en" : "fr"; applyLang(); });
  $("st-refresh").addEventListener("click", refreshStatus);
  $("unlock-form").addEventListener("submit", unlock);
  $("lock-btn").addEventListener("click", lock);
  $("pin-form").addEventListener("submit", setPin);
  $("contacts-reload").addEventListener("click", () => loadContacts(false));
  $("wearer-form").addEventListener("submit", saveWearer);
  $("lang-form").addEventListener("submit", saveLang);
  $("gesture-form").addEventListener("submit", saveGesture);
  $("preview-form").addEventListener("submit", preview);
  $("test-form").addEventListener("submit", testAlert);
  $("selftest-form").addEventListener("submit", selftest);
  $("logs-form").addEventListener("submit", logs);
  $("config-export").addEventListener("click", exportConfig);
  $("import-form").addEventListener("submit", importConfig);
  $("evidence-form").addEventListener("submit", evidence);
  $("keys-reload").addEventListener("click", loadKeys);
  $("assoc-form").addEventListener("submit", setAssociation);
  $("reset-form").addEventListener("submit", factoryReset);
  $("reset-confirm").addEventListener("input", () => { $("reset-btn").disabled = $("reset-confirm").value.trim() !== "erase"; });
  applyLang();
  const d = await refreshStatus();
  if (d && d.hello.unlocked) { await loadContacts(); await loadSettings(); await loadKeys(); }
});
