# The alert state machine: idle -> triggered -> dispatching -> active -> idle.
# The button stays live in every state; a second trigger during an alert is logged and sends nothing.
# An alert never waits for a GNSS fix: each SMS carries the best position known when it is sent.
import asyncio
from time import ticks_ms, ticks_diff

from drivers.modem import SmsError
from firmware import haptics
from firmware.sms_pdu import encode_submit
from firmware.sms_text import compose

IDLE = "idle"
TRIGGERED = "triggered"
DISPATCHING = "dispatching"
ACTIVE = "active"

_BACKOFF_MS = (2000, 5000, 15000, 30000, 60000)


class AlertManager:
    def __init__(self, cfg, modem, lastfix, battery, log, vibrator=None):
        self.cfg = cfg
        self.modem = modem
        self.lastfix = lastfix
        self.battery = battery  # callable -> percent or None
        self.log = log
        self.vibrator = vibrator
        self.state = IDLE
        self.alert_id = 0
        self.kind = "alert"
        self.only = None
        self.results = {}  # contact index -> "sent"/"failed"/"pending"
        # listeners: fn(event, manager) for "triggered", "dispatched", "sms", "ended" (evidence
        # recording, platform link, follow-ups). Called synchronously: they must only note or schedule.
        self.listeners = []
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.task = None

    def start(self):
        self.task = asyncio.create_task(self._run())
        return self.task

    def trigger(self, source, kind="alert", only=None):
        """Called by the button task, the fall detector or the console (kind "test", `only` = contact
        indices to reach). Returns True if a new alert starts."""
        if self.state != IDLE:
            self.log("trigger_ignored", source=source, state=self.state, alert=self.alert_id)
            return False
        self.alert_id += 1
        self.kind = kind
        self.only = only
        self.log("trigger", source=source, kind=kind, alert=self.alert_id)
        self._to(TRIGGERED)
        self._haptic(haptics.GESTURE_SEEN)
        self._notify("triggered")
        self._wake.set()
        return True

    def stop(self, why):
        if self.state != IDLE:
            self.log("alert_stop", why=why, alert=self.alert_id)
            self._stop.set()

    def _notify(self, event):
        for fn in self.listeners:
            try:
                fn(event, self)
            except Exception as e:  # a failing feature must never break the alert
                self.log("listener_error", where=event, err=repr(e))

    def _to(self, new):
        self.log("state", frm=self.state, to=new, alert=self.alert_id)
        self.state = new

    def _haptic(self, pattern):
        if self.vibrator is not None:
            self.vibrator.play(pattern)

    async def _run(self):
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._stop.clear()
            try:
                await self._dispatch()
                await self._active()
            except Exception as e:  # never leave the device stuck in an alert state
                self.log("alert_error", err=repr(e), alert=self.alert_id)
            self._to(IDLE)
            self._notify("ended")

    def _text(self, contact):
        fix = self.lastfix.best()
        return compose(self.kind, self.cfg.get("wearer", ""), fix.as_tuple() if fix else None,
                       self.battery(), self.cfg.get("lang", "fr"))

    async def _dispatch(self):
        contacts = self.cfg.get("contacts") or []
        if self.only is not None:
            contacts = [c for i, c in enumerate(contacts) if i in self.only]
        self._to(DISPATCHING)
        if not contacts:
            self.log("not_configured", alert=self.alert_id)
            self._haptic(haptics.NOT_CONFIGURED)
            return
        modem = self.modem
        if not modem.ready.is_set():
            self.log("wait_modem", alert=self.alert_id)
            try:
                await asyncio.wait_for_ms(modem.ready.wait(), self.cfg.get("modem_ready_wait_s", 60) * 1000)
            except asyncio.TimeoutError:
                self.log("modem_not_ready", alert=self.alert_id)  # try anyway: it may answer now
        self.results = {i: "pending" for i in range(len(contacts))}
        rounds = self.cfg.get("sms_rounds", 6)
        for rnd in range(rounds):
            todo = [i for i in range(len(contacts)) if self.results[i] == "pending"]
            nxt = self._prepare(todo[0], contacts[todo[0]]) if todo else None
            for k, i in enumerate(todo):
                pdu = nxt
                sending = asyncio.create_task(self._send_one(i, contacts[i], pdu))
                # prepare the next PDU while this one is in flight (tens of ms of CPU on an ESP32)
                nxt = self._prepare(todo[k + 1], contacts[todo[k + 1]]) if k + 1 < len(todo) else None
                await sending
            if "pending" not in self.results.values():
                break
            if rnd + 1 < rounds:
                await asyncio.sleep_ms(_BACKOFF_MS[min(rnd, len(_BACKOFF_MS) - 1)])
        failed = [i for i in self.results if self.results[i] != "sent"]
        self.log("dispatch_done", alert=self.alert_id, sent=len(contacts) - len(failed), failed=len(failed))
        self._haptic(haptics.FAILED if failed else haptics.SENT_ALL)
        self._notify("dispatched")

    def _prepare(self, i, contact):
        """(pdu_hex, tpdu_len) for one contact with the best position known now, or None if invalid."""
        try:
            return encode_submit(contact["number"], self._text(contact), self.cfg.get("sms_validity_min", 4320))
        except ValueError as e:
            self.results[i] = "failed"
            self.log("sms_invalid", contact=i, err=repr(e), alert=self.alert_id)
            return None

    async def _send_one(self, i, contact, prepared):
        if prepared is None:
            return
        pdu, n = prepared
        try:
            mr = await self.modem.send_pdu(pdu, n)
        except SmsError as e:
            if not e.transient:
                self.results[i] = "failed"
            self.log("sms_failed", contact=i, to=contact["number"], reason=e.reason, code=e.code,
                     transient=e.transient, alert=self.alert_id)
            return
        self.results[i] = "sent"
        self._notify("sms")
        self.log("sms_sent", contact=i, to=contact["number"], mr=mr, alert=self.alert_id)

    async def _active(self):
        self._to(ACTIVE)
        try:
            await asyncio.wait_for_ms(self._stop.wait(), self.cfg.get("alert_active_s", 3600) * 1000)
        except asyncio.TimeoutError:
            self.log("alert_expired", alert=self.alert_id)
