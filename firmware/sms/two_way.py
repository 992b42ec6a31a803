# Two-way SMS wiring: received SMS -> inbox decision -> acknowledgement, position reply or stop;
# low-battery warnings. The decisions are in firmware/sms/inbox.py and firmware/sms/battery_watch.py;
# this module only acts on them through the alert manager and the modem.
import asyncio

from firmware.core.errors import SmsError
from firmware.core.sms_deliver import sent_utc
from firmware.sms import battery_watch
from firmware.core import clock, uptime
from firmware.wearer import haptics
from firmware.alert.manager import IDLE
from firmware.sms.inbox import ACK, ACK_PIN, POSITION, STOP, Inbox, stop_text
from firmware.system import storage

BAD_SMS_PATH = "sms_bad.json"  # the reader's undecodable indices (drivers/modem/sms_reader.py)
_READY_WAIT_MS = 60000  # a sleeping modem woken, or an "off" one booted and registered (~20 s)


class _BadStore:
    """Where the SMS reader keeps the indices it could not decode once (a reset between its two looks
    must not start over)."""

    def load(self):
        return storage.read_json(BAD_SMS_PATH)

    def save(self, pairs):
        storage.write_json(BAD_SMS_PATH, pairs)
from firmware.core.sms_pdu import encode_submit
from firmware.sms.text import compose


class TwoWay:
    def __init__(self, app):
        self.app = app
        self.log = app.log
        self.inbox = Inbox(app.cfg, log=app.log, now=uptime.ms(), pin_path="smspin.rec")
        # the modem driver's reader
        retry_s = app.cfg.get("sms_bad_retry_s", 30)  # the second look at an undecodable SMS
        if not isinstance(retry_s, int) or isinstance(retry_s, bool) or not 1 <= retry_s <= 600:
            retry_s = 30
        self.reader = app.modem.sms_reader(self.on_message, log=app.log, bad_store=_BadStore(),
                                           retry_ms=retry_s * 1000)
        self.battery = battery_watch.BatteryWatch(log=app.log)
        self._jobs = []  # running reply tasks, kept so none is lost

    def start(self):
        return self.reader.start()

    def on_message(self, sms):
        """Runs in the reader task: decide, then schedule any SMS to send."""
        alert = self.app.alert
        # during an alert its recipients (fixed at its trigger) are the ones heard, by their numbering
        self.inbox.contacts = alert.recipients if alert.state != IDLE else None
        act, c, why = self.inbox.handle(sms.sender, sms.text, uptime.ms(), alert.state != IDLE,
                                        sent_utc(sms), clock.utc_now(), ton=getattr(sms, "ton", None))
        if act == ACK or act == ACK_PIN:
            alert.ack(c, confirmed=act == ACK_PIN)
            self.app.vibrator.play(haptics.ACKNOWLEDGED)
            self.log("sms_ack", contact=c, alert=alert.alert_id)
        elif act == POSITION:
            self._spawn(self._position(c))
        elif act == STOP:
            # the others are told who ended it, after the alert's SMS in flight, only those who got it
            name = alert.recipients[c].get("name", "") if c < len(alert.recipients) else ""
            alert.stop("sms_stop", notice=stop_text(name, self.app.cfg.get("lang", "fr")), skip=c)
            self.app.vibrator.play(haptics.STOPPED_BY_CONTACT)  # she knows a contact ended it

    def _spawn(self, coro):
        self._jobs = [t for t in self._jobs if not t.done()]
        self._jobs.append(asyncio.create_task(coro))

    def pending(self):
        """A reply, notice or warning still on its way: the power task keeps the modem awake and the
        MCU out of sleep until it is sent or given up (a deep sleep would end it)."""
        for t in self._jobs:
            if not t.done():
                return True
        return False

    async def _position(self, c):
        alert = self.app.alert
        if alert.state != IDLE:  # through the alert's outbox: persisted, retried, reported
            await alert.queue_message(c, "update", "position_request")
            self.log("position_reply", contact=c, alert=alert.alert_id)
            return
        fix = self.app.lastfix.best()
        text = compose("update", self.app.cfg.get("wearer", ""), fix.as_tuple() if fix else None,
                       self.app.board.battery_percent(), self.app.cfg.get("lang", "fr"),
                       cell=getattr(self.app.modem, "last_cell", None))
        if await self.send_direct(c, text):
            self.log("position_reply", contact=c)

    def tell_contacts(self, text):
        """Send text to every recipient of the alert, each in its own task (a cancel by the wearer)."""
        contacts = self.app.alert.recipients
        for i in range(len(contacts)):
            self._spawn(self.send_direct(i, text, contacts=contacts))

    async def send_direct(self, c, text, attempts=3, contacts=None):
        """One SMS outside an alert's outbox (replies, notices, battery warnings) to contact c of
        contacts (default: the configuration's)."""
        if contacts is None:
            contacts = self.app.cfg.get("contacts") or []
        if not 0 <= c < len(contacts):
            return False
        try:
            pdu, n = encode_submit(contacts[c]["number"], text, self.app.cfg.get("sms_validity_min", 4320))
        except (ValueError, KeyError) as e:
            self.log("sms_invalid", contact=c, err=repr(e))
            return False
        modem = self.app.modem
        ready = getattr(modem, "ready", None)
        for k in range(attempts):
            if ready is not None and not ready.is_set():  # asleep or off: the power task wakes it
                try:
                    await asyncio.wait_for_ms(ready.wait(), _READY_WAIT_MS)
                except asyncio.TimeoutError:
                    pass  # try anyway: the error says why, and the next attempt waits again
            try:
                mr = await modem.send_pdu(pdu, n)
                self.log("sms_sent_direct", contact=c, to=contacts[c]["number"], mr=mr)
                return True
            except SmsError as e:
                self.log("sms_direct_failed", contact=c, code=e.code, attempt=k + 1)
                if not e.transient:
                    return False
                await asyncio.sleep_ms(5000 << k)
        return False

    def check_battery(self):
        """Called on each status poll: 15 % and 5 % each send one warning to the first contact."""
        self.inbox.tick(uptime.ms())  # the contacts' PIN locks to flash while they run
        pct = self.app.board.battery_percent()
        level = self.battery.update(pct)
        if level:
            self.log("battery_low", pct=pct, level=level)
            text = battery_watch.text(pct, self.app.cfg.get("wearer", ""), self.app.cfg.get("lang", "fr"))
            self._spawn(self._warn(level, text))

    async def _warn(self, level, text):
        if not await self.send_direct(0, text):
            self.battery.failed(level)  # given again at the next reading: never lost
            self.log("battery_warning_failed", level=level)
