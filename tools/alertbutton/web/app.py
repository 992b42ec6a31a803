"""The web page's routes (Starlette): the page and its assets, and a JSON API that is a thin layer over
the CLI's modules: requests through alertbutton.device.technician (req_*, typed_contact, check_config,
error_message), numbers shown with firmware.core.phone and alertbutton.numplan.host, evidence through
the public functions of alertbutton.evidence.export. Reads are GET, changes are POST with a JSON body
(guard.py enforces it, with the token and the Host). The PIN only passes through: never stored here."""
import json
import os
import re
import traceback
import types

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from alertbutton.device import keys as device_keys, technician as tech
from alertbutton.numplan import host as numplan_host
from alertbutton.web.guard import Guard
from firmware.core import phone
from firmware.settings import config as settings

STATIC = os.path.join(os.path.dirname(__file__), "static")
STATUS = {tech.EXIT_USAGE: 400, tech.EXIT_REFUSED: 409, tech.EXIT_LOCKED: 423, tech.EXIT_NODEVICE: 503}
# the CLI's hints name its commands; the page names its own controls
HINTS = {"LOCKED": "the button is locked: unlock it with the technician PIN (Unlock)",
         "NOPIN": "no technician PIN is set yet: set one first (PIN)"}
PIN_RE = re.compile(r"^[0-9]{1,16}$")
# the largest body a page sends is a configuration file (five contacts and settings: ~2 KB); a bigger one
# is refused before it is read whole (a multi-gigabyte upload would otherwise sit in memory)
MAX_BODY = 64 * 1024


class BadRequest(Exception):
    def __init__(self, message, field=None, status=400):
        super().__init__(message)
        self.field = field
        self.status = status


def number_view(e164):
    """What the page shows of a stored number: national written form, country (and its names in the
    page's languages), kind, international."""
    info = phone.lookup(e164)
    return {"number": e164, "national": numplan_host.national_form(e164),
            "country": info[1] if info else None, "countries": numplan_host.country_names(e164),
            "kind": info[2] if info else None,
            "international": info[3] if info else e164, "described": phone.describe(e164),
            "warnings": phone.warnings(e164) if info else []}


def create_app(button, token, authority, evidence_dir, association=None):
    """button: web.button.Button; authority: 'host:port' as bound; evidence_dir: where exports go;
    association: (secret, public) of `alertbutton web --association-key` (the secret stays here), or None."""

    async def body(request):
        too_big = BadRequest("the request is larger than %d KB: nothing was read nor written (a configuration "
                             "file exported by this page is a few KB)" % (MAX_BODY // 1024), status=413)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            raise too_big
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise too_big
        try:
            data = json.loads(raw or b"{}")
        except ValueError as e:
            raise BadRequest("the body is not JSON: %s" % e)
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    def device(fn, *args, timeout=None):
        return run_in_threadpool(button.call, fn, *args, timeout=timeout)

    def api(handler):
        async def endpoint(request):
            try:
                return JSONResponse(await handler(request))
            except tech.DeviceError as e:
                return JSONResponse({"error": e.code or "HOST", "message": tech.error_message(e, button.port, HINTS),
                                     "exit": e.status, "field": _field(e.code)}, STATUS.get(e.status, 409))
            except BadRequest as e:
                return JSONResponse({"error": "REQUEST", "message": str(e), "field": e.field}, e.status)
            except Exception as e:  # a bug of ours: said on the page and on stderr, never a bare 500
                traceback.print_exc()
                return JSONResponse({"error": "HOST", "message": "alertbutton web failed on %s: %s: %s (see its "
                                     "terminal)" % (request.url.path, type(e).__name__, e)}, 500)
        return endpoint

    async def page(request):
        return FileResponse(os.path.join(STATIC, "index.html"), media_type="text/html; charset=utf-8")

    async def status(request):
        h = await device(tech.req_hello)
        out = {"hello": h, "port": button.port, "power": None, "progress": None}
        if h.get("unlocked"):
            try:
                out["power"] = await device(tech.req_power)
            except tech.DeviceError as e:
                out["power"] = {"error": tech.error_message(e, button.port, HINTS)}
            a = h.get("last_alert")
            if a and a.get("results") is not None:
                # the alert's results are by contact index: the filled slots in order (config.py)
                filled = [s for s in (await device(tech.req_contacts_list))["slots"] if s.get("number")]
                out["progress"] = [{"slot": filled[int(i)]["slot"] if int(i) < len(filled) else None,
                                    "name": filled[int(i)]["name"] if int(i) < len(filled) else None, "state": st}
                                   for i, st in sorted(a["results"].items(), key=lambda kv: int(kv[0]))]
        return out

    async def contacts(request):
        r = await device(tech.req_contacts_list)
        for s in r["slots"]:
            if s.get("number"):
                s.update(number_view(s["number"]), warnings=s.get("warnings", []))
        return r

    def checked_contact(data, need_name=True):
        slot = str(data.get("slot", ""))
        try:
            settings.check_slot(slot)
        except ValueError as e:
            raise tech.DeviceError(str(e), tech.EXIT_USAGE, "SLOT")
        number, name = str(data.get("number", "")), str(data.get("name", ""))
        if not number.strip():
            raise tech.DeviceError("the number is missing", tech.EXIT_USAGE, "NUMBER")
        if not name.strip():
            if need_name:
                raise tech.DeviceError("the contact's name is missing", tech.EXIT_USAGE, "NAME")
            return slot, tech.typed_contact(number, ["Contact"], separate=True)[0], ""  # the number alone, as typed
        # one field each: the number is taken as written (as a quoted number in the CLI)
        e164, name = tech.typed_contact(number, [name], separate=True)
        return slot, e164, name

    async def contact_check(request):
        slot, e164, name = checked_contact(await body(request), need_name=False)
        return dict(number_view(e164), slot=int(slot), name=name)

    async def contact_set(request):
        slot, e164, name = checked_contact(await body(request))
        r = await device(tech.req_contacts_set, slot, e164, name)
        r.update(number_view(r["number"]), warnings=r.get("warnings", []))
        return r

    async def contact_clear(request):
        slot = str((await body(request)).get("slot", ""))
        try:
            settings.check_slot(slot)
        except ValueError as e:
            raise tech.DeviceError(str(e), tech.EXIT_USAGE, "SLOT")
        return await device(tech.req_contacts_clear, slot)

    async def settings_get(request):
        return {"wearer": await device(tech.req_wearer), "lang": await device(tech.req_lang),
                "gesture": await device(tech.req_gesture)}

    async def wearer(request):
        name = str((await body(request)).get("name", "")).strip()
        return await device(tech.req_wearer, "set" if name else "clear", name)

    async def lang(request):
        v = (await body(request)).get("lang")
        if v not in settings.LANGS:
            raise BadRequest("language: one of %s" % ", ".join(settings.LANGS), "lang")
        return await device(tech.req_lang, v)

    async def gesture(request):
        words = str((await body(request)).get("words", "")).split()
        if not words or words[0] != "set":
            raise BadRequest("gesture: set ACTION [presses N within MS] [hold MS]", "gesture")
        return await device(tech.req_gesture, words)

    async def preview(request):
        kind = request.query_params.get("kind", "alert")
        if kind not in ("alert", "fall", "test"):
            raise BadRequest("preview: alert, fall or test")
        r = await device(tech.req_preview, kind)
        for m in r["messages"]:
            m.update({"shown": number_view(m["to"])})
        return r

    async def test_alert(request):
        slots = (await body(request)).get("slots")
        if not isinstance(slots, list) or not slots or not all(
                isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 5 for s in slots):
            raise BadRequest("choose at least one slot (1 to 5)", "slots")
        return await device(tech.req_test_alert, ",".join(str(s) for s in sorted(set(slots))))

    async def logs(request):
        try:
            n = int(request.query_params.get("n", "20"))
        except ValueError:
            raise BadRequest("n: a number of events, 1 to 64")
        return await device(tech.req_logs, n)

    def pin_value(data, key):
        v = str(data.get(key) or "")
        if not PIN_RE.match(v):
            raise BadRequest("the PIN is digits only", key)
        return v

    async def unlock(request):
        return await device(tech.req_unlock, pin_value(await body(request), "pin"))

    async def lock(request):
        await body(request)
        return await device(tech.req_lock)

    async def pin_set(request):
        data = await body(request)
        new = pin_value(data, "new")
        current = pin_value(data, "current") if data.get("current") else None
        return await device(tech.req_pin_set, current, new)

    async def config_export(request):
        try:
            r = await device(tech.req_config_get)
        except tech.DeviceError as e:
            return JSONResponse({"error": e.code or "HOST", "message": tech.error_message(e, button.port, HINTS)},
                                STATUS.get(e.status, 409))
        return Response(json.dumps(r, ensure_ascii=False, indent=2) + "\n", media_type="application/json",
                        headers={"content-disposition": 'attachment; filename="alertbutton-config.json"'})

    async def config_import(request):
        data = (await body(request)).get("config")
        checked = tech.check_config(data, "the file")  # whole, with the device's check, before any write
        return await device(tech.req_config_put, checked)

    async def selftest(request):
        vibrate = bool((await body(request)).get("vibrate"))
        return await device(tech.req_selftest, vibrate, timeout=tech.SELFTEST_TIMEOUT)

    async def factory_reset(request):
        if (await body(request)).get("confirm") != "erase":
            raise BadRequest("type erase to confirm: nothing was erased", "confirm")
        return await device(tech.req_factory_reset)

    async def evidence_export(request):
        data = await body(request)
        pin = pin_value(data, "pin")
        h = await device(tech.req_hello)
        device_pub = None
        if h.get("unlocked"):  # else the export unlocks with the PIN, and reads the key then
            device_pub = (await device(device_keys.req_keys_device))["device_pub"]
        return await run_in_threadpool(_evidence_export, button, pin, bool(h.get("unlocked")), evidence_dir,
                                       association, device_pub)

    async def keys_get(request):
        """The key the button reports, the association key it seals to, and the public half of the key
        this server was started with (never its secret)."""
        out = dict(await device(device_keys.req_keys_device))
        out.update(await device(device_keys.req_keys_association))
        out["server_association_pub"] = association[1].hex() if association else None
        return out

    async def keys_association(request):
        data = await body(request)
        text = data.get("key")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("paste the association's public key (64 hex) or choose its .pub file", "key")
        name = data.get("file") if isinstance(data.get("file"), str) else None

        def refuse(msg):
            raise tech.DeviceError(msg, tech.EXIT_USAGE, "KEY")
        checked = device_keys.association_text(text, refuse, name)  # the CLI's check, on the text only
        return await device(device_keys.req_keys_set_association, checked)

    routes = [
        Route("/", page),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/status", api(status)),
        Route("/api/contacts", api(contacts)),
        Route("/api/contacts/check", api(contact_check), methods=["POST"]),
        Route("/api/contacts/set", api(contact_set), methods=["POST"]),
        Route("/api/contacts/clear", api(contact_clear), methods=["POST"]),
        Route("/api/settings", api(settings_get)),
        Route("/api/wearer", api(wearer), methods=["POST"]),
        Route("/api/lang", api(lang), methods=["POST"]),
        Route("/api/gesture", api(gesture), methods=["POST"]),
        Route("/api/preview", api(preview)),
        Route("/api/test-alert", api(test_alert), methods=["POST"]),
        Route("/api/logs", api(logs)),
        Route("/api/unlock", api(unlock), methods=["POST"]),
        Route("/api/lock", api(lock), methods=["POST"]),
        Route("/api/pin", api(pin_set), methods=["POST"]),
        Route("/api/config", config_export),
        Route("/api/config/import", api(config_import), methods=["POST"]),
        Route("/api/selftest", api(selftest), methods=["POST"]),
        Route("/api/factory-reset", api(factory_reset), methods=["POST"]),
        Route("/api/evidence/export", api(evidence_export), methods=["POST"]),
        Route("/api/keys", api(keys_get)),
        Route("/api/keys/association", api(keys_association), methods=["POST"]),
    ]
    # the exports' files (report.html, WAVs) behind the same guard; the folder is made by the first export
    routes.append(Mount("/evidence", StaticFiles(directory=evidence_dir, check_dir=False), name="evidence"))
    return Guard(Starlette(routes=routes), token, authority)


def _field(code):
    return {"NUMBER": "number", "NAME": "name", "SLOT": "slot", "PIN": "pin", "KEY": "key"}.get(code)


def _evidence_export(button, pin, keep_unlocked, out_dir, association=None, device_pub=None):
    """Every finished recording exported with `alertbutton evidence`'s own functions (its console
    client opens the port while ours is released), opened with the association key, then verified with
    the device key the button reports: the verifier's verdict and what its anchors cover, per chunk."""
    from alertbutton.evidence import export as ev
    with button.released() as port:
        try:
            src = ev.open_source(types.SimpleNamespace(port=port, flash=None, pin=pin, keep_unlocked=keep_unlocked))
        except ev.EvidenceError as e:
            raise tech.DeviceError(str(e), e.status if e.status in STATUS else tech.EXIT_REFUSED, "EVIDENCE")
        try:
            if device_pub is None:  # the export unlocked the button: the key through the same console client
                device_pub = src.call("keys device")["device_pub"]
            if not isinstance(device_pub, str) or not re.match(r"^[0-9a-f]{64}$", device_pub):
                raise tech.DeviceError("the button reported no valid device key (%r): the recordings were not "
                                       "verified" % (device_pub,), tech.EXIT_REFUSED, "EVIDENCE")
            device_key = bytes.fromhex(device_pub)
            out = []
            for r in src.list():
                if r.get("active"):
                    out.append({"rec": r["rec"], "skipped": "active"})  # the page says it in its language
                    continue
                if association is None and _sealed(src, r["rec"]):
                    raise tech.DeviceError("the recordings are sealed to the association: start the page with its "
                                           "key: alertbutton web --association-key FILE", tech.EXIT_REFUSED, "SEALED")
                d, problems = ev.export_recording(src, r["rec"], out_dir, progress=False, listing=r,
                                                  association=association, device_key=device_key)
                v = ev.examine(d, device_key=device_key, association=association)
                with open(os.path.join(d, "manifest.json")) as f:
                    m = json.load(f)
                name = os.path.basename(d)
                for c in m.get("chunks", []):  # the verdict per chunk: the problems that name it, anchored or not
                    base = os.path.basename(c.get("file", ""))
                    c["problems"] = [p for p in v["problems"] if base and base in p]
                    c["anchored"] = isinstance(c.get("index"), int) and c["index"] <= v["covered"]
                out.append({"rec": r["rec"], "dir": name, "problems": v["problems"], "chain_head": m.get("chain_head"),
                            "manifest_sha256": ev.sha256_file(os.path.join(d, "manifest.json")),
                            "coverage": v["coverage"], "notes": v["notes"], "covered": v["covered"],
                            "last": v["last"], "sealed": bool(m.get("sealed")),
                            "report": "/evidence/%s/report.html" % name,
                            "audio": "/evidence/%s/recording.wav" % name, "chunks": m.get("chunks", [])})
            return {"recordings": out, "folder": os.path.abspath(out_dir), "device_pub": device_pub}
        except ev.EvidenceError as e:
            raise tech.DeviceError(str(e), e.status if e.status in STATUS else tech.EXIT_REFUSED, "EVIDENCE")
        finally:
            src.close()


def _sealed(src, rec):
    """Whether the device's files of rec are sealed (.evs): read from its chunk list, nothing exported."""
    return any(str(c.get("file", "")).endswith(".evs") for c in src.chunks(rec))
