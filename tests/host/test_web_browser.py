"""The technician's page in a real browser (issue 23 item 4): Debian's chromium, driven headless by
selenium through Debian's chromedriver, against `alertbutton web` attached to the simulated button over
its console pty. As a technician would: set the PIN, type five contacts (one refused with the CLI's
message, then corrected), preview, test alert to two slots, lock; then the alert gesture in the
simulator, and the five SMS must go to exactly the numbers typed in the page with exactly the text
the page previewed. Screenshots of each screen go to out/test-artifacts/web/ (the technician guide's
pictures, docs/img/web-*.png, are copies of some of them).

    .venv/bin/python -m pytest tests/host/test_web_browser.py -v     (./run.sh installs the web extra;
    apt-get install chromium chromium-driver, which .ci/run does when they are missing)
"""
import json
import os
import re
import shutil
import time

import pytest

from webserver import REPO, sim, wait_sim, web  # noqa: F401  (fixtures)

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    if os.environ.get("CI"):  # CI installs them (.ci/run): missing there is a failure, not a skip
        raise RuntimeError("CI without chromium/chromedriver: .ci/run should have installed them")
    pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install -y chromium "
                "chromium-driver; .ci/run installs them in CI)", allow_module_level=True)
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")
pytest.importorskip("starlette", reason="the web extra is not installed (pip install -e '.[web]')")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ART = os.path.join(REPO, "out", "test-artifacts", "web")
DOWNLOADS = os.path.join(ART, "downloads")
PIN = "4826"
# typed as a technician would, in five written forms; the button stores E.164
CONTACTS = [("06 12 34 56 01", "+33612345601", "Sophie"), ("0752345602", "+33752345602", "Karim Ben Ali"),
            ("+33 6 12 34 56 03", "+33612345603", "Association"), ("0692 12 34 04", "+262692123404", "Julie"),
            ("+44 7400 900105", "+447400900105", "Nadia")]
REFUSED = (2, "08 12 34 56 02")  # a service number: refused with the CLI's message, then corrected




@pytest.fixture(scope="module")
def browser():
    shutil.rmtree(DOWNLOADS, ignore_errors=True)
    os.makedirs(DOWNLOADS)
    opts = webdriver.ChromeOptions()
    opts.add_experimental_option("prefs", {"download.default_directory": DOWNLOADS,
                                           "download.prompt_for_download": False})
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,1000", "--lang=fr-FR", "--no-first-run"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


def wait(d, pred, timeout=40, what=""):
    try:
        return WebDriverWait(d, timeout, poll_frequency=0.1).until(lambda _d: pred())
    except Exception:
        shot(d, "FAILED-" + (what or "wait"))
        raise AssertionError("timed out waiting for %s; page messages: %s" % (what, messages(d)))


def messages(d):
    return {e.get_attribute("id"): e.text for e in d.find_elements(By.CSS_SELECTOR, ".msg, .check") if e.text}


def shot(d, name, section=None):
    """A screenshot of the whole page (the window grown to its height), or of one section."""
    path = os.path.join(ART, name + ".png")
    w, h0 = d.get_window_size()["width"], d.get_window_size()["height"]
    d.set_window_size(w, max(d.execute_script("return document.documentElement.scrollHeight") + 140, 800))
    d.execute_script("window.scrollTo(0, 0)")
    try:
        if section:
            d.find_element(By.ID, section).screenshot(path)
        else:
            d.save_screenshot(path)
    finally:
        d.set_window_size(w, h0)
    return path


def typed(d, element_id, text):
    e = d.find_element(By.ID, element_id)
    e.clear()
    e.send_keys(text)
    return e


def text_of(d, element_id):
    return d.find_element(By.ID, element_id).text



def test_a_technician_configures_tests_and_locks_a_button_from_the_page(sim, web, browser):
    d = browser
    d.get(web.url)
    # the tokened URL set the cookie and was replaced by / (the token is not left in the address bar)
    wait(d, lambda: d.current_url.endswith("/") and "token" not in d.current_url, what="the redirect")
    wait(d, lambda: "NON CONFIGURÉ" in text_of(d, "st-banner"), what="the status")
    assert text_of(d, "st-session") == "aucun code PIN défini"
    assert text_of(d, "st-firmware").endswith("(sim)")
    shot(d, "01-status-not-configured")

    # the PIN: typed twice, sent once, the fields emptied
    typed(d, "pin-new", PIN)
    typed(d, "pin-again", PIN)
    d.find_element(By.ID, "pin-btn").click()
    wait(d, lambda: text_of(d, "session-msg") == "code PIN enregistré", what="the PIN")
    assert all(d.find_element(By.ID, i).get_attribute("value") == "" for i in ("pin-new", "pin-again", "pin-current"))
    wait(d, lambda: text_of(d, "st-session") == "déverrouillée", what="the unlocked session")

    # five contacts, checked live by the server while typing; slot 2 first typed as a service number
    for slot, (number, e164, name) in enumerate(CONTACTS, 1):
        if slot == REFUSED[0]:
            typed(d, "c%d-name" % slot, name)
            typed(d, "c%d-number" % slot, REFUSED[1])
            wait(d, lambda: "invalid number" in text_of(d, "c2-check"), what="the refusal")
            msg = text_of(d, "c2-check")
            assert "08" in msg and "service" in msg, msg
            assert d.find_element(By.ID, "c2-number").get_attribute("aria-invalid") == "true"
            shot(d, "03-contact-refused", "contacts")
            d.find_element(By.ID, "c2-save").click()  # saving it anyway is refused with the same words
            wait(d, lambda: text_of(d, "c2-check").startswith("invalid number"), what="the refused save")
            typed(d, "c%d-number" % slot, number)
        else:
            typed(d, "c%d-number" % slot, number)
            typed(d, "c%d-name" % slot, name)
        wait(d, lambda: text_of(d, "c%d-check" % slot).startswith("✓"), what="the check of slot %d" % slot)
        d.find_element(By.ID, "c%d-save" % slot).click()
        wait(d, lambda: text_of(d, "c%d-check" % slot).startswith("✓ enregistré"), what="the save of slot %d" % slot)
    # the countries in French (phonenumbers' names), the words of the page French too
    assert "✓ enregistré : Julie — 0692 12 34 04 — La Réunion, mobile (+262 692 12 34 04)" in text_of(d, "c4-check")
    assert "07 52 34 56 02 — France, mobile" in text_of(d, "c2-check")
    assert "07400 900105 — Royaume-Uni, mobile" in text_of(d, "c5-check")
    assert text_of(d, "gesture-now").startswith("alerte : 5 appuis"), text_of(d, "gesture-now")
    # the wearer's name
    typed(d, "wearer-name", "Camille")
    d.find_element(By.CSS_SELECTOR, "#wearer-form button").click()
    wait(d, lambda: "Camille" in text_of(d, "wearer-insms"), what="the wearer")
    wait(d, lambda: text_of(d, "st-configured").startswith("oui") or d.find_element(By.ID, "st-refresh").click(),
         what="configured")
    # free flash and power mode from the button's hello, without a self-test nor power accounting
    assert re.fullmatch(r"[0-9][0-9\u202f\u00a0 ]* (Ko|Mo|Go)", text_of(d, "st-flash")), text_of(d, "st-flash")
    # low power is on as shipped (issue 22), the modem in "ready" mode
    assert text_of(d, "st-power") == "basse consommation, modem : prêt, en veille", text_of(d, "st-power")
    shot(d, "02-contacts")

    # the preview: the exact SMS each contact would receive, with its segment count
    d.find_element(By.ID, "preview-btn").click()
    wait(d, lambda: len(d.find_elements(By.CSS_SELECTOR, "#preview-list pre")) == 5, what="the preview")
    previewed = {}
    for slot in range(1, 6):
        pre = d.find_element(By.ID, "preview-text-%d" % slot)
        previewed[pre.get_attribute("data-to")] = d.execute_script("return arguments[0].textContent", pre)
    assert sorted(previewed) == sorted(e for _n, e, _m in CONTACTS)
    assert all("Camille" in txt for txt in previewed.values())
    assert text_of(d, "preview-list").count("1 SMS (136 caractères sur 160)") == 5, text_of(d, "preview-list")
    assert text_of(d, "preview-position") == "Position dans le SMS : aucune (pas de position GPS connue)"
    assert "Royaume-Uni (+44 7400 900105)" in text_of(d, "preview-5")
    shot(d, "04-preview", "preview")

    # a test alert to slots 2 and 4, with each SMS's progress
    n0 = len(sim.sms)
    for slot in (2, 4):
        d.find_element(By.ID, "test-slot-%d" % slot).click()
    d.execute_script("const b = document.getElementById('test-btn'); b.click(); b.click();")  # hurried
    wait(d, lambda: "envoyée aux emplacements 2, 4" in text_of(d, "test-result"), what="the test alert")
    assert text_of(d, "test-result").endswith(": 07 52 34 56 02, 0692 12 34 04"), text_of(d, "test-result")
    wait(d, lambda: d.find_element(By.ID, "test-progress").get_attribute("data-state") == "idle", timeout=40,
         what="the end of the test alert")
    rows = d.find_elements(By.CSS_SELECTOR, "#test-progress tbody tr")
    assert sorted(r.get_attribute("data-slot") for r in rows) == ["2", "4"]
    wait_sim(sim, lambda: len(sim.sms) >= n0 + 2)
    time.sleep(1.5)
    test_sms = sim.sms[n0:]
    assert len(test_sms) == 2, test_sms  # one test alert for the double click
    assert sorted(s["to"] for s in test_sms) == sorted([CONTACTS[1][1], CONTACTS[3][1]])
    assert all(s["text"].startswith("TEST") for s in test_sms)
    shot(d, "05-test-alert", "test")

    # self-test and logs (shown, with masked numbers), then the English switch, for the guide
    d.find_element(By.ID, "selftest-btn").click()
    wait(d, lambda: "autotest" in text_of(d, "selftest-verdict").lower() and "cours" not in text_of(d, "selftest-verdict"),
         timeout=60, what="the self-test")
    cells = [c.text for c in d.find_elements(By.CSS_SELECTOR, "#selftest-table tbody td:first-child")]
    assert cells[:3] == ["bouton", "batterie", "mémoire flash"] and "accéléromètre" in cells, cells
    assert "clés des preuves" in cells and "evidence_keys" not in cells, cells
    shot(d, "06-selftest", "selftest")
    d.find_element(By.ID, "logs-btn").click()
    wait(d, lambda: d.find_element(By.ID, "logs-table").is_displayed(), what="the logs")
    logs = text_of(d, "logs-table")
    assert not any(e in logs or typed_form in logs or e[-8:] in logs for typed_form, e, _m in CONTACTS), logs
    shot(d, "07-logs", "logs")
    d.find_element(By.ID, "lang-switch").click()
    wait(d, lambda: text_of(d, "h-status") == "Button status", what="English")
    # what the page wrote from the answers is rewritten too, not only the labels
    assert text_of(d, "session-msg") == "PIN set"
    assert text_of(d, "c4-check").startswith("✓ saved: Julie — 0692 12 34 04 — Reunion, mobile")
    assert "United Kingdom (+44 7400 900105)" in text_of(d, "preview-5")
    assert "1 SMS (136 characters of 160)" in text_of(d, "preview-5")
    assert text_of(d, "preview-position") == "Position in the SMS: none (no GPS position known)"
    assert text_of(d, "gesture-now").startswith("alert: 5 presses")
    assert text_of(d, "preview-list").startswith("Slot 1 — Sophie")
    assert "accepted by the network" in text_of(d, "test-progress")
    assert text_of(d, "selftest-verdict").startswith(("self-test passed", "SELF-TEST FAILED"))
    assert "battery" in text_of(d, "selftest-table") and "batterie" not in text_of(d, "selftest-table")
    shot(d, "08-english")
    d.find_element(By.ID, "lang-switch").click()
    wait(d, lambda: text_of(d, "h-status") == "État du bouton", what="French again")
    d.set_window_size(768, 1000)  # a tablet held upright
    shot(d, "09-tablet")
    d.set_window_size(1200, 1000)

    # lock, and the page says so; a locked button refuses the contacts with the button's words
    d.find_element(By.ID, "lock-btn").click()
    wait(d, lambda: text_of(d, "session-msg") == "verrouillé", what="the lock")
    wait(d, lambda: text_of(d, "st-session") == "verrouillée", what="the locked status")
    assert text_of(d, "st-flash") == "déverrouiller pour la voir" and text_of(d, "st-power") == "déverrouiller pour le voir"
    d.find_element(By.ID, "contacts-reload").click()
    wait(d, lambda: text_of(d, "contacts-msg") == "le bouton est verrouillé : déverrouillez-le avec le code PIN "
         "(Session technicien)", what="the locked refusal, in French")
    shot(d, "10-locked")

    # the alert gesture on the simulated button: five SMS, to exactly the numbers typed in the page,
    # with exactly the text the page previewed
    n0 = len(sim.sms)
    sim.gesture({"t": 0, "gesture": "alert"})
    wait_sim(sim, lambda: len(sim.sms) >= n0 + 5 and [
        e for e in sim.events if e["event"] == "dispatch_done" and e["t"] >= sim.sms[n0]["t"]], timeout=60)
    time.sleep(0.3)
    sent = sim.sms[n0:]
    assert len(sent) == 5
    assert sorted(s["to"] for s in sent) == sorted(e for _n, e, _m in CONTACTS)
    for s in sent:
        assert s["text"] == previewed[s["to"]], (s["to"], s["text"], previewed[s["to"]])
    d.find_element(By.ID, "st-refresh").click()
    wait(d, lambda: "(alerte)" in text_of(d, "st-alert"), what="the alert in the status")
    shot(d, "11-after-alert", "status")


def test_evidence_config_import_and_factory_reset_from_the_page(sim, web, browser, tmp_path):
    """After the alert above: its sound evidence exported and verified from the page, a configuration
    file refused whole (nothing written) then imported, and the factory reset behind its typed word."""
    d = browser
    wait_sim(sim, lambda: any(e["event"] == "evidence_done" for e in sim.events), timeout=90)

    # the page started without the association's key: the recordings are sealed, said in the page's
    # language with how to start it, not as a raw error; nothing exported
    from webserver import WebServer
    web.stop()  # one client of the console at a time
    nokey = WebServer(sim.console_port, evidence_dir=tmp_path / "nokey")
    try:
        d.get(nokey.url)
        wait(d, lambda: text_of(d, "st-session") in ("verrouillée", "déverrouillée"), what="the page without the key")
        typed(d, "evidence-pin", PIN)
        d.find_element(By.ID, "evidence-btn").click()
        wait(d, lambda: text_of(d, "evidence-msg"), timeout=60, what="the sealed refusal")
        msg = text_of(d, "evidence-msg")
        assert msg.startswith("les enregistrements sont scellés pour l'association") and \
            "alertbutton web --association-key FICHIER" in msg, msg
        assert text_of(d, "evidence-list") == "" and not os.path.exists(tmp_path / "nokey")
        shot(d, "12a-evidence-sealed-no-key", "evidence")
        d.find_element(By.ID, "lang-switch").click()
        wait(d, lambda: text_of(d, "evidence-msg").startswith("the recordings are sealed to the association"),
             what="the sealed refusal in English")
        assert "alertbutton web --association-key FILE" in text_of(d, "evidence-msg")
        d.find_element(By.ID, "lang-switch").click()
    finally:
        nokey.stop()
        web.restart()
    d.get(web.url)
    wait(d, lambda: text_of(d, "st-session") == "verrouillée", what="the page with the key (locked by the other's exit)")
    typed(d, "unlock-pin", PIN)
    d.find_element(By.ID, "unlock-btn").click()
    wait(d, lambda: text_of(d, "session-msg").startswith("déverrouillé pour"), what="the unlock")
    assert d.find_element(By.ID, "unlock-pin").get_attribute("value") == ""

    typed(d, "evidence-pin", PIN)
    d.find_element(By.ID, "evidence-btn").click()
    wait(d, lambda: "VÉRIFIÉ" in text_of(d, "evidence-list") or text_of(d, "evidence-msg"), timeout=90,
         what="the evidence export")
    assert text_of(d, "evidence-msg") == ""
    ev = text_of(d, "evidence-list")
    assert "VÉRIFIÉ : chaîne intacte" in ev and "PROBLÈMES" not in ev, ev
    assert "still being recorded" not in ev and "export it" not in ev, ev  # the recording going on, in French
    assert "inconnue" in ev or "OSM" in ev, ev  # the position of a chunk (feminine), or its map links
    assert len(d.find_elements(By.CSS_SELECTOR, "#evidence-list audio")) >= 1
    # verified with the key the button reports (keys device), said as such; every chunk anchored by the
    # heads the button signed, in the verifier's words
    device_pub = text_of(d, "keys-device")
    assert re.fullmatch(r"[0-9a-f]{64}", device_pub), device_pub
    assert text_of(d, "evidence-device-key") == ("Vérifié avec la clé que le bouton annonce : %s — l'association doit "
                                                 "la comparer avec celle qu'elle a enregistrée." % device_pub)
    anchors = [c.text for c in d.find_elements(By.CSS_SELECTOR, "#evidence-list tbody td:last-child")]
    assert len(anchors) >= 3 and set(anchors) == {"ancré"}, anchors
    assert "the end of the recording is proven" in ev and "are covered by the signed head" in ev, ev
    shot(d, "12-evidence", "evidence")

    # the keys: the device key as the button reports it; the association key checked as the CLI checks it
    from alertbutton.evidence import seal
    _secret, public = seal.load_association_key(sim.association_key)
    assert text_of(d, "keys-assoc") == public.hex() + " — c'est la clé avec laquelle cette page a été lancée"
    assert "l'association doit la comparer avec celle qu'elle a enregistrée" in text_of(d, "keys")
    typed(d, "assoc-key", public.hex()[:-1])
    d.find_element(By.ID, "assoc-btn").click()
    wait(d, lambda: "64 hex characters" in text_of(d, "assoc-check"), what="the short key refused")
    assert text_of(d, "assoc-check") == ("invalid key: the association public key is 64 hex characters (32 bytes), got "
                                         "63 characters: copy it from `alertbutton keys association new`")
    assert d.find_element(By.ID, "assoc-key").get_attribute("aria-invalid") == "true"
    d.find_element(By.ID, "assoc-file").send_keys(sim.association_key)  # the SECRET file chosen by mistake
    d.find_element(By.ID, "assoc-btn").click()
    wait(d, lambda: "SECRET" in text_of(d, "assoc-check"), what="the secret file refused")
    assert "association.key is the association's SECRET key file" in text_of(d, "assoc-check")
    shot(d, "16-keys-refused", "keys")
    pub = tmp_path / "association.key.pub"
    pub.write_text(public.hex() + "\n")
    d.find_element(By.ID, "assoc-file").send_keys(str(pub))
    d.find_element(By.ID, "assoc-btn").click()
    wait(d, lambda: text_of(d, "assoc-check").startswith("✓"), what="the key saved")
    assert text_of(d, "assoc-check") == "✓ enregistrée sur le bouton : " + public.hex()
    assert d.find_element(By.ID, "assoc-key").get_attribute("aria-invalid") == "false"
    shot(d, "17-keys", "keys")
    # the session the page had opened is still open (the export locks only what it unlocked itself)
    d.find_element(By.ID, "st-refresh").click()
    wait(d, lambda: text_of(d, "st-session") == "déverrouillée", what="still unlocked")

    # the export is a download of `config export`'s JSON: the five contacts typed above, no PIN
    d.find_element(By.ID, "config-export").click()
    path = os.path.join(DOWNLOADS, "alertbutton-config.json")
    wait(d, lambda: os.path.exists(path) and os.path.getsize(path) > 0, what="the download")
    time.sleep(0.3)
    exported = json.load(open(path, encoding="utf-8"))
    assert exported["format"] == "alertbutton-config" and not [k for k in exported if "pin" in k]
    assert [c["number"] for c in exported["contacts"]] == [e for _n, e, _m in CONTACTS]

    # a configuration file with one bad number: refused whole, in the CLI's words, nothing written
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "alertbutton-config", "wearer": "Zoé",
                               "contacts": [{"name": "A", "number": "+33612345601"},
                                            {"name": "X", "number": "0899999999"}]}))
    d.find_element(By.ID, "config-file").send_keys(str(bad))
    d.find_element(By.ID, "import-btn").click()
    wait(d, lambda: "service" in text_of(d, "config-msg"), what="the refused import")
    assert text_of(d, "config-msg").startswith("invalid configuration: the file: ")
    d.find_element(By.ID, "contacts-reload").click()
    wait(d, lambda: d.find_element(By.ID, "c5-name").get_attribute("value") == "Nadia", what="contacts kept")
    assert d.find_element(By.ID, "wearer-name").get_attribute("value") == "Camille"
    shot(d, "13-import-refused", "config")
    # a photo chosen by mistake, and a file far too big: said, nothing sent
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    d.find_element(By.ID, "config-file").send_keys(str(png))
    d.find_element(By.ID, "import-btn").click()
    wait(d, lambda: text_of(d, "config-msg").startswith("ce fichier n'est pas du JSON valable"), what="not JSON")
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"format": "alertbutton-config", "wearer": "x" * (3 * 1024 * 1024)}))
    d.find_element(By.ID, "config-file").send_keys(str(big))
    d.find_element(By.ID, "import-btn").click()
    wait(d, lambda: text_of(d, "config-msg").startswith("ce fichier fait 3072 Ko"), what="too big")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"format": "alertbutton-config", "wearer": "Zoé",
                                "contacts": [{"slot": 1, "name": "Inès", "number": "+33612345601"}]}))
    d.find_element(By.ID, "config-file").send_keys(str(good))
    d.find_element(By.ID, "import-btn").click()
    wait(d, lambda: text_of(d, "config-result").startswith("configuration importée"), what="the import")
    wait(d, lambda: d.find_element(By.ID, "c1-name").get_attribute("value") == "Inès", what="imported contact")
    assert d.find_element(By.ID, "c2-number").get_attribute("value") == ""  # contacts replaces all five

    # factory reset: the button stays disabled until the word is typed
    typed(d, "reset-confirm", "eras")
    assert not d.find_element(By.ID, "reset-btn").is_enabled()
    typed(d, "reset-confirm", "erase")
    assert d.find_element(By.ID, "reset-btn").is_enabled()
    shot(d, "14-factory-reset", "reset")
    n0 = len([e for e in sim.events if e["event"] == "factory_reset"])
    # a hurried double click: one reset, and its message, not a second request refused after it
    d.execute_script("const b = document.getElementById('reset-btn'); b.click(); b.click();")
    wait(d, lambda: text_of(d, "reset-msg").startswith("réinitialisé"), what="the reset")
    time.sleep(1)
    assert text_of(d, "reset-msg").startswith("réinitialisé"), text_of(d, "reset-msg")
    assert len([e for e in sim.events if e["event"] == "factory_reset"]) == n0 + 1
    wait(d, lambda: "NON CONFIGURÉ" in text_of(d, "st-banner"), what="not configured")
    assert text_of(d, "st-session") == "aucun code PIN défini"


XSS = ['<img src=x onerror=a()>', '"><script>a()</script>', "';alert(3)//<b>x</b>"]  # 24 characters at most
WEARER_XSS = "<b>Zo</b><img src=x>"  # the wearer's name has 20 characters at most


def injected(d):
    """What a script slipped into the page would have left: elements no code of the page makes, a
    dialog, a flag."""
    try:
        d.switch_to.alert.dismiss()
        return "a dialog opened"
    except Exception:
        pass
    n = d.execute_script("return document.querySelectorAll('img, script:not([src]), b, iframe, object').length")
    return "%d foreign element(s)" % n if n else None


def test_hostile_names_from_an_upload_show_as_text_and_never_run(sim, web, browser, tmp_path):
    """The abuser knows the contacts and may hand the technician a configuration file: names made of HTML
    and script, imported through the page, then shown in the contacts, the wearer, the preview, the test
    alert's progress and the logs. The browser shows them literally and runs nothing."""
    d = browser
    d.get(web.url)
    wait(d, lambda: "NON CONFIGURÉ" in text_of(d, "st-banner"), what="the reset button")
    typed(d, "pin-new", PIN)
    typed(d, "pin-again", PIN)
    d.find_element(By.ID, "pin-btn").click()
    wait(d, lambda: text_of(d, "session-msg") == "code PIN enregistré", what="the PIN")
    f = tmp_path / "hostile.json"
    f.write_text(json.dumps({"format": "alertbutton-config", "wearer": WEARER_XSS,
                             "contacts": [{"slot": i + 1, "name": n, "number": CONTACTS[i][1]}
                                          for i, n in enumerate(XSS)]}))
    d.find_element(By.ID, "config-file").send_keys(str(f))
    d.find_element(By.ID, "import-btn").click()
    wait(d, lambda: text_of(d, "config-result").startswith("configuration importée") or text_of(d, "config-msg"),
         what="the import")
    assert text_of(d, "config-msg") == "", text_of(d, "config-msg")
    wait(d, lambda: d.find_element(By.ID, "c2-name").get_attribute("value") == XSS[1], what="the names")
    assert injected(d) is None
    assert XSS[0] in text_of(d, "c1-check") or XSS[0] == d.find_element(By.ID, "c1-name").get_attribute("value")
    assert text_of(d, "test-slots").count("<") >= 3, text_of(d, "test-slots")
    d.find_element(By.ID, "preview-btn").click()
    wait(d, lambda: len(d.find_elements(By.CSS_SELECTOR, "#preview-list pre")) == 3, what="the preview")
    for n in XSS:
        assert n in text_of(d, "preview-list"), (n, text_of(d, "preview-list"))
    assert WEARER_XSS in text_of(d, "wearer-insms")
    d.find_element(By.ID, "test-slot-2").click()
    d.find_element(By.ID, "test-btn").click()
    wait(d, lambda: d.find_element(By.ID, "test-progress").get_attribute("data-state") == "idle", timeout=40,
         what="the end of the test alert")
    assert XSS[1] in text_of(d, "test-progress")
    d.find_element(By.ID, "logs-btn").click()
    wait(d, lambda: d.find_element(By.ID, "logs-table").is_displayed(), what="the logs")
    d.find_element(By.ID, "lang-switch").click()
    wait(d, lambda: text_of(d, "h-status") == "Button status", what="English")
    d.find_element(By.ID, "lang-switch").click()
    assert injected(d) is None
    shot(d, "15-hostile-names")
    # a wrong PIN typed, then the right one: neither, nor the token, in what the server printed
    typed(d, "unlock-pin", "9753")
    d.find_element(By.ID, "unlock-btn").click()
    wait(d, lambda: "wrong PIN" in text_of(d, "session-msg"), what="the wrong PIN")
    typed(d, "unlock-pin", PIN)
    d.find_element(By.ID, "unlock-btn").click()
    wait(d, lambda: text_of(d, "session-msg").startswith("déverrouillé pour"), what="the unlock")
    printed = "".join(web.stderr) + "".join(web.stdout)
    assert printed.startswith("alertbutton web: button on ") and printed.count("\n") == 1, printed  # its one line
    assert web.token not in printed and "ab_token" not in printed
    assert not re.search(r"(?<![0-9])(%s|9753)(?![0-9])" % PIN, printed), printed
    assert d.find_element(By.ID, "unlock-pin").get_attribute("value") == ""
