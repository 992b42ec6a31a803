# The alert state machine: idle -> triggered -> dispatching -> active -> idle.
# The button stays live in every state; a second trigger during an alert is logged and sends nothing.
# An alert never waits for a GNSS fix: each SMS carries the best position known when it is composed.
# Every contact's SMS goes through the persisted outbox (firmware/alert/outbox.py): after a reset the
# dispatch resumes where it stopped.
import asyncio
import random
from time import ticks_ms, ticks_diff, ticks_add

from firmware.core.errors import SmsError
from firmware.wearer import haptics
from firmware.alert.followups import FollowupPolicy
from firmware.alert.outbox import Outbox, PENDING, SENDING, ACCEPTED, DELIVERED, FAILED, DROPPED
from firmware.core.sms_pdu import encode_submit
from firmware.core.sms_status import decode_status_report, classify
from firmware.sms.text import compose

IDLE = "idle"
TRIGGERED = "triggered"
DISPATCHING = "dispatching"
ACTIVE = "active"

_END_ROUND_MS = 600000  # the closing notices are retried this long after the alert ended
_AGE_SAVE_MS = 300000  # an active alert writes its state (its age) at least this often
_BACKOFF_FIRST_MS = 5000  # per-contact retry: ~5 s doubling up to 5 min, +-20 % jitter
_BACKOFF_CAP_MS = 300000


def _no_dial():  # modems without cellular data (and the tests' fakes) have nothing to abort
    return False


def backoff_ms(attempt, rnd=random.random):
    """Delay before retry number `attempt` (1 = first retry)."""
    d = _BACKOFF_FIRST_MS << min(attempt - 1, 8)
    if d > _BACKOFF_CAP_MS:
        d = _BACKOFF_CAP_MS
    return int(d * (0.8 + 0.4 * rnd()))


class AlertManager:
    def __init__(self, cfg, modem, lastfix, battery, log, vibrator=None, outbox=None):
        self.cfg = cfg
        self.modem = modem
        self.lastfix = lastfix
        self.battery = battery  # callable -> percent or None
        self.log = log
        self.vibrator = vibrator
        self.head_ref = None  # callable -> the latest evidence head reference or None (App: the recorder's)
        self.outbox = outbox if outbox is not None else Outbox(log=log)
        self.outbox.state_fn = self._state
        self._saved_at = ticks_ms()
        self.state = IDLE
        self.alert_id = self.outbox.alert_id
        self.kind = "alert"
        self.duress = False
        self.source = None
        self.only = None
        self.started = ticks_ms()
        self.consecutive_failures = 0
        self._due = {}  # record index -> ticks_ms of its next attempt (kept across dispatch rounds)
        self.followups = FollowupPolicy(cfg)
        self.first_dispatch = True
        self._stopped = False
        self._nudge = asyncio.Event()  # something changed: a fix, an ack, a stop, a failed delivery
        # listeners: fn(event, manager) for "triggered", "sms", "delivered", "dispatched", "ended"
        # (evidence recording, platform link, follow-ups). Called synchronously: note or schedule only.
        self.listeners = []
        self._wake = asyncio.Event()
        self._notice = None  # (text, contact not to tell) sent to those who got the alert, once it ends
        self._battery_told = False  # the "follow-ups paused: battery low" notice went out this alert
        self._queued = None  # a real alert that preempted a test alert: (source, kind, only, duress)
        # the alert's recipients, fixed at its trigger: [{"name", "number"}] in the configuration's
        # order then. Follow-ups, replies, acknowledgements and STOP/POSITION of this alert use them
        # even if a technician changes the contacts meanwhile (kept after the alert for late notices).
        self.recipients = []
        self._resume = False
        modem.on_status_report = self._status_report
        self.task = None

    # --- public -----------------------------------------------------------------------------------
    def start(self):
        if self.outbox.interrupted():
            self._resume_after_reset()
        self.task = asyncio.create_task(self._run())
        return self.task

    def _state(self):
        """What the outbox keeps of the running alert at each write (firmware/alert/outbox.py)."""
        if self.state == IDLE:
            return None
        now = ticks_ms()
        self._saved_at = now
        fu = self.followups
        return {"duress": bool(self.duress), "age": ticks_diff(now, self.started), "only": self.only,
                "fu": fu.export(now) if fu.active else None}

    def persist(self):
        """Write the alert's state now (an acknowledgement, a duress): a reset must not undo it."""
        if self.state == IDLE:
            return
        self._saved_at = ticks_ms()
        try:
            self.outbox.save()
        except OSError as e:
            self.log("outbox_write_failed", err=repr(e), alert=self.alert_id)

    def _resume_after_reset(self):
        """An alert was running when the board was reset (power cut, watchdog, brownout): it goes on
        where it stopped, no new trigger needed: its unsent SMS, its recipients, its duress tag, its
        follow-up schedule and its age (the time the board was off is not counted). Listeners get
        "resumed" (the wearer's gestures, GNSS) instead of "triggered" (nothing is recorded twice)."""
        ob = self.outbox
        st = ob.alive if isinstance(ob.alive, dict) else {}
        now = ticks_ms()
        self._resume = True
        self.kind = ob.kind
        self.source = ob.source
        self.recipients = ob.recipients if ob.recipients is not None else self._snapshot()
        self.duress = st.get("duress") is True
        only = st.get("only")
        self.only = only if isinstance(only, list) else None
        age = st.get("age")
        limit = self.cfg.get("alert_active_s", 3600) * 1000
        age = age if isinstance(age, int) and 0 <= age <= limit else 0
        self.started = ticks_add(now, -age)
        if self.kind != "test":
            try:
                self.followups.restore(st.get("fu"), now)
            except ValueError:  # an older file or a damaged schedule: start it again, a fix owed to all
                self.followups.start(now, False, len(self.recipients))
        pending = len(ob.pending())
        self.first_dispatch = pending > 0
        if pending:
            self.log("outbox_resume", alert=self.alert_id, pending=pending)
        self.log("alert_resumed", alert=self.alert_id, kind=self.kind, pending=pending, age_s=age // 1000,
                 duress=self.duress)
        self._to(DISPATCHING if pending else ACTIVE)
        self._notify("resumed")
        self._wake.set()

    def trigger(self, source, kind="alert", only=None, duress=False):
        """Called by the button task, the fall detector or the console (kind "test", `only` = contact
        indices to reach). Returns True if a new alert starts."""
        if self.state != IDLE:
            if self.kind == "test" and kind != "test" and self._queued is None:
                # a real alert never waits behind a technician's test: the test stops at once (no
                # further test SMS; the one the modem is sending cannot be called back), the real
                # alert starts the moment it returns. Felt now, and the SMS path is cleared now.
                self.log("test_preempted", source=source, kind=kind, alert=self.alert_id)
                self._queued = (source, kind, only, duress)
                self._stopped = True
                self._nudge.set()
                getattr(self.modem, "abort_dial", _no_dial)()
                self._haptic(haptics.GESTURE_SEEN)
                return True
            self.log("trigger_ignored", source=source, state=self.state, alert=self.alert_id)
            return False
        return self._start(source, kind, only, duress)

    def _snapshot(self):
        out = []
        for c in self.cfg.get("contacts") or ():
            try:
                out.append({"name": c.get("name", ""), "number": c["number"]})
            except (KeyError, TypeError, AttributeError):
                out.append({"name": "", "number": None})  # keeps the numbering; refused when sent
        return out

    def _start(self, source, kind, only, duress, felt=False):
        self.recipients = self._snapshot()
        self.alert_id = self.outbox.alert_id + 1
        self.kind = kind
        self.duress = duress  # "sous contrainte" in every SMS of this alert
        self.source = source
        self.only = only
        self.started = ticks_ms()
        self.log("trigger", source=source, kind=kind, alert=self.alert_id)
        getattr(self.modem, "abort_dial", _no_dial)()  # SMS first: a slow data dial gives way now
        self._to(TRIGGERED)
        if not felt:
            self._haptic(haptics.GESTURE_SEEN)
        self._notify("triggered")
        self._wake.set()
        return True

    def stop(self, why, notice=None, skip=-1):
        """End the alert. notice: a text for the contacts (the wearer's cancel, a contact's STOP), sent
        once the alert's SMS in flight returned, only to the contacts who were sent something of this
        alert (skip: one not to tell, the one who sent STOP); its unsent SMS are dropped, so nobody
        reads the alert after its end."""
        if self.state != IDLE:
            self.log("alert_stop", why=why, alert=self.alert_id)
            if notice is not None and self.kind != "test":
                self._notice = (notice, skip)
            self._stopped = True
            self._nudge.set()

    def mark_duress(self):
        """The wearer made the duress gesture during the alert: every SMS from now on says "sous
        contrainte", the tag is on flash at once (a reset keeps it), and every contact is told now with
        a follow-up of its own, not with the next periodic one (up to 30 min later, or never once all
        had acknowledged)."""
        if self.state == IDLE:
            return
        first = not self.duress
        self.duress = True
        if first and self.kind != "test" and self.followups.active:
            self.followups.duress()
        self.persist()
        self._nudge.set()

    def on_fix(self, fix):
        """A new position (GNSS task): owed follow-ups may now be due."""
        if self.state != IDLE:
            self.followups.on_fix(ticks_ms(), fix.age_s(), fix.acc_m)
            self._nudge.set()

    def ack(self, contact, confirmed=False):
        """A contact acknowledged (two-way SMS), with the contacts' PIN if confirmed: fewer or no
        periodic updates for them (firmware/alert/followups.py)."""
        if self.state != IDLE and 0 <= contact < self.followups.n:
            self.followups.ack(contact, confirmed)
            self.persist()
            self._nudge.set()

    @property
    def results(self):
        """contact index -> state, for status displays."""
        return {r["c"]: r["st"] for r in self.outbox.recs}

    # --- internals --------------------------------------------------------------------------------
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
            self._stopped = False
            self._nudge.clear()
            try:
                if not self._resume:
                    self.first_dispatch = True
                    await self._open_outbox()
                self._resume = False
                self._due = {}
                if self.outbox.recs and (self.outbox.pending() or self.first_dispatch):
                    await self._dispatch()
                await self._active()
                if self._notice is not None:
                    await self._tell_end()
            except Exception as e:  # never leave the device stuck in an alert state
                self.log("alert_error", err=repr(e), alert=self.alert_id)
            try:
                self.outbox.close()
            except OSError as e:
                self.log("outbox_write_failed", err=repr(e))
            self.followups.stop()
            self._notice = None
            self._battery_told = False
            self._to(IDLE)
            self._notify("ended")
            if self._queued is not None:
                source, kind, only, duress = self._queued
                self._queued = None
                self._start(source, kind, only, duress, felt=True)

    async def _position(self):
        """(fix tuple or None, cell or None) for a text: the best fix known now; without one, the
        serving cell (cached by the status poll, else asked now if the modem answers)."""
        fix = self.lastfix.best()
        if fix is not None:
            return fix.as_tuple(), None
        cell = getattr(self.modem, "last_cell", None)
        if cell is None and self.modem.ready.is_set():
            try:
                cell = await asyncio.wait_for_ms(self.modem.serving_cell(), 2000)
            except Exception:  # no cell is no reason to delay the alert further
                cell = None
        return None, cell

    def _ref(self, kind):
        """The evidence head reference a follow-up carries (issue 21), or None."""
        if kind != "update" or self.head_ref is None:
            return None
        try:
            return self.head_ref()
        except Exception as e:  # never the follow-up itself
            self.log("head_ref_error", err=repr(e), alert=self.alert_id)
            return None

    async def _text(self, kind=None):
        kind = kind or self.kind
        wearer = self.cfg.get("wearer", "")
        lang = self.cfg.get("lang", "fr")
        fix = cell = bat = None
        try:
            fix, cell = await self._position()
            bat = self.battery()
            return compose(kind, wearer, fix, bat, lang, cell=cell, duress=self.duress, ref=self._ref(kind)), fix
        except Exception as e:  # a failing gauge, a garbled cell, a damaged setting: never the alert
            self.log("compose_error", err=repr(e), alert=self.alert_id)
        # the same text with less in it, down to the bare alert that needs nothing but the kind
        if not isinstance(wearer, str):
            wearer = ""
        for f, lg in ((fix, lang), (fix, "fr"), (None, "fr")):
            try:
                return compose(kind, wearer, f, None, lg, duress=self.duress), f
            except Exception:
                pass
        return compose(kind, "", None, None, "fr", duress=bool(self.duress)), None

    async def _open_outbox(self):
        """Compose every contact's PDU with the best position known now and persist them before the
        first AT command. An invalid contact is logged and skipped, never blocks the others."""
        contacts = self.recipients
        self._to(DISPATCHING)
        if not contacts:
            self.log("not_configured", alert=self.alert_id)
            self._haptic(haptics.NOT_CONFIGURED)
        text, fix = await self._text()
        if self.kind != "test" and contacts:
            fresh = fix is not None and self.followups.fresh(fix[3])
            self.followups.start(ticks_ms(), fresh, len(contacts))
        items = []
        for i, c in enumerate(contacts):
            if self.only is not None and i not in self.only:
                continue
            try:
                pdu, n = encode_submit(c["number"], text, self.cfg.get("sms_validity_min", 4320),
                                       status_report=True)
            except (ValueError, KeyError, TypeError) as e:
                self.log("sms_invalid", contact=i, err=repr(e), alert=self.alert_id)
                continue
            items.append((i, c["number"], pdu, n))
        try:
            self.outbox.open(self.alert_id, self.kind, items, self.source, contacts)
        except OSError as e:
            # flash full or failing: send anyway from RAM, the alert matters more than its record
            self.log("outbox_write_failed", err=repr(e), alert=self.alert_id)

    async def _wait_modem(self):
        modem = self.modem
        if modem.ready.is_set():
            return
        self.log("wait_modem", alert=self.alert_id)
        try:
            await asyncio.wait_for_ms(modem.ready.wait(), self.cfg.get("modem_ready_wait_s", 60) * 1000)
        except asyncio.TimeoutError:
            self.log("modem_not_ready", alert=self.alert_id)  # try anyway: it may answer now

    async def _dispatch(self, deadline=None):
        await self._wait_modem()
        ob = self.outbox
        if deadline is None:
            deadline = ticks_add(self.started, self.cfg.get("alert_active_s", 3600) * 1000)
        while True:
            todo = ob.pending()
            if not todo:
                break
            now = ticks_ms()
            ready = [i for i in todo if ticks_diff(self._due.get(i, now), now) <= 0]
            if not ready:
                if ticks_diff(now, deadline) > 0:
                    self.log("dispatch_gave_up", pending=len(todo), alert=self.alert_id)
                    break
                wait = min(ticks_diff(self._due[i], now) for i in todo)
                if self._stopped:
                    break
                try:
                    await asyncio.wait_for_ms(self._nudge.wait(), max(1, wait))
                except asyncio.TimeoutError:
                    pass
                self._nudge.clear()
                continue
            if self._stopped:
                break  # stopped (or a test preempted by a real alert): not one more SMS of it
            for i in ready:
                if self._stopped:
                    break
                await self._send_one(i)
        c = ob.counts()
        failed = c.get(FAILED, 0) + c.get(PENDING, 0)
        self.log("dispatch_done", alert=self.alert_id, sent=c.get(ACCEPTED, 0) + c.get(DELIVERED, 0),
                 failed=failed)
        if self.first_dispatch and not self._stopped:  # follow-ups go out silently: no vibration each
            self.first_dispatch = False
            self._haptic(haptics.FAILED if failed else haptics.SENT_ALL)
            self._notify("dispatched")

    async def _send_one(self, i):
        ob = self.outbox
        r = ob.recs[i]
        r["st"] = SENDING
        try:
            mr = await self.modem.send_pdu(r["pdu"], r["n"], self.cfg.get("cmgs_timeout_s", 90) * 1000)
        except SmsError as e:
            att = r["att"] + 1
            self.log("sms_failed", contact=r["c"], to=r["to"], reason=e.reason, code=e.code,
                     transient=e.transient, attempt=att, alert=self.alert_id)
            if e.transient:
                self._retry_later(i, att, e.code)
                if e.reason != "cms":
                    # no answer, no prompt, aborted: the modem itself is in trouble. A +CMS error
                    # (e.g. 331, not registered yet) is the network's answer: restarting the modem
                    # would only restart its registration.
                    await self._modem_failure()
            else:
                self._persist(i, st=FAILED, att=att, err=e.code)
                self.log("sms_permanent_failure", contact=r["c"], to=r["to"], code=e.code, alert=self.alert_id)
            return
        except Exception as e:  # anything else (a driver bug, a damaged setting): retried like a
            att = r["att"] + 1  # transient failure, never the end of the alert for every contact
            self.log("sms_error", contact=r["c"], to=r["to"], err=repr(e), attempt=att, alert=self.alert_id)
            self._retry_later(i, att, -1)
            try:
                await self._modem_failure()
            except Exception as e2:
                self.log("modem_recovery_error", err=repr(e2), alert=self.alert_id)
            return
        self.consecutive_failures = 0
        self._persist(i, st=ACCEPTED, mr=mr, att=r["att"] + 1)
        self.log("sms_sent", contact=r["c"], to=r["to"], mr=mr, alert=self.alert_id)
        self._notify("sms")

    def _retry_later(self, i, att, err):
        # back to pending, next attempt after the per-contact backoff
        self._persist(i, st=PENDING, att=att, err=err)
        self._due[i] = ticks_add(ticks_ms(), backoff_ms(att))

    def _persist(self, i, **fields):
        try:
            self.outbox.set(i, **fields)
        except OSError as e:
            self.outbox.set(i, persist=False, **fields)
            self.log("outbox_write_failed", err=repr(e), alert=self.alert_id)

    async def _modem_failure(self):
        """Consecutive failures across contacts point at the modem, not the destinations."""
        self.consecutive_failures += 1
        n = self.consecutive_failures
        limit = self.cfg.get("modem_failures_before_cycle", 3)
        if n % limit == 0:
            self.log("modem_power_cycle", reason="%d consecutive SMS failures" % n, alert=self.alert_id)
            if await self.modem.power_cycle():
                await self.modem.bring_up(attempts=3)
        elif n % limit == limit - 1 and n > limit:
            await self.modem.switch_sms_domain()

    def _status_report(self, pdu_hex):
        try:
            mr, number, st = decode_status_report(pdu_hex)
        except ValueError as e:
            self.log("cds_invalid", err=repr(e))
            return
        ob = self.outbox
        i = ob.find_mr(mr, number)
        if i < 0:
            i = ob.find_mr(mr)
        if i < 0:
            self.log("cds_unmatched", mr=mr, to=number, status=st)
            return
        r = ob.recs[i]
        verdict = classify(st)
        if verdict == "delivered":
            self._persist(i, st=DELIVERED)
            self.log("sms_delivered", contact=r["c"], to=r["to"], mr=mr, status=st, alert=self.alert_id)
            self._notify("delivered")
        elif verdict == "failed":
            # the network gave up on a message it had accepted: send it again after a backoff, a few
            # times at most (a phone that refuses SMS for good must not be flooded)
            self.log("sms_delivery_failed", contact=r["c"], to=r["to"], mr=mr, status=st, alert=self.alert_id)
            if r["att"] >= self.cfg.get("delivery_resends", 2) + 1:
                self._persist(i, st=FAILED, err=st)
                self.log("sms_permanent_failure", contact=r["c"], to=r["to"], code=st, alert=self.alert_id)
                return
            self._persist(i, st=PENDING, err=st)
            self._due[i] = ticks_add(ticks_ms(), backoff_ms(r["att"]))
            self._nudge.set()
        else:
            self.log("sms_delivery_pending", contact=r["c"], mr=mr, status=st, alert=self.alert_id)

    async def queue_message(self, contact, kind, why, text=None):
        """Compose (or take text) and persist one more SMS for a contact during the alert (follow-up,
        reply, notice)."""
        contacts = self.recipients
        if not 0 <= contact < len(contacts):
            return -1
        if text is None:
            text, _ = await self._text(kind)
        try:
            pdu, n = encode_submit(contacts[contact]["number"], text, self.cfg.get("sms_validity_min", 4320),
                                   status_report=True)
        except (ValueError, KeyError, TypeError) as e:
            self.log("sms_invalid", contact=contact, err=repr(e), alert=self.alert_id)
            return -1
        try:
            k = self.outbox.append(contact, contacts[contact]["number"], pdu, n, why)
        except OSError as e:  # flash full or failing: append() put the record in RAM before saving,
            k = len(self.outbox.recs) - 1  # so it is sent anyway (once)
            self.log("outbox_write_failed", err=repr(e), alert=self.alert_id)
        self.log("followup_queued", contact=contact, why=why, alert=self.alert_id)
        self._nudge.set()
        return k

    async def _tell_end(self):
        """The alert ended with a notice: its unsent SMS are dropped (a contact must never read the
        alert after its end: before, contacts 3-5 got "ANNULATION" before "ALERTE"), and each contact
        who was sent something of it gets the notice, after it."""
        text, skip = self._notice
        self._notice = None
        ob = self.outbox
        told = []
        for i, r in enumerate(ob.recs):
            if r["st"] in (PENDING, SENDING):
                ob.set(i, persist=False, st=DROPPED)
            elif r["st"] in (ACCEPTED, DELIVERED) and r["c"] not in told:
                told.append(r["c"])
        for c in sorted(told):
            if c != skip:
                await self.queue_message(c, None, "end", text)
        self.log("end_notice", told=len([c for c in told if c != skip]), alert=self.alert_id)
        self._stopped = False
        self.first_dispatch = False
        await self._dispatch(ticks_add(ticks_ms(), _END_ROUND_MS))

    async def _active(self):
        if self.kind == "test":
            return  # a test alert ends once its SMS went out: no follow-ups, nothing to keep active
        self._to(ACTIVE)
        end = ticks_add(self.started, self.cfg.get("alert_active_s", 3600) * 1000)
        while True:
            if self._stopped:
                return
            now = ticks_ms()
            left = ticks_diff(end, now)
            if left <= 0:
                self.log("alert_expired", alert=self.alert_id)
                from firmware.sms import notices  # loaded only when an alert ends this way (heap)
                self._notice = (notices.end_text(self.cfg.get("wearer", ""),
                                                 self.cfg.get("alert_active_s", 3600) // 60,
                                                 self.cfg.get("lang", "fr")), -1)
                return
            wait = left
            s = self.followups.sleep_ms(now)
            if s is not None and s < wait:
                wait = s
            # the alert's age to flash at least every _AGE_SAVE_MS: after a reset it resumes from
            # there (the alert then lasts at most that much longer, never shorter)
            since = ticks_diff(now, self._saved_at)
            if since >= _AGE_SAVE_MS:
                self.persist()
                since = 0
            if wait > _AGE_SAVE_MS - since:
                wait = _AGE_SAVE_MS - since
            if wait > 0 and not self._nudge.is_set():
                try:
                    await asyncio.wait_for_ms(self._nudge.wait(), wait)
                except asyncio.TimeoutError:
                    pass
            self._nudge.clear()
            if self._stopped:
                return
            pct = self.battery()
            self.followups.battery(pct)
            if self.followups.battery_low and not self._battery_told:
                # the periodic follow-ups stop at the battery floor: the contacts are told, once
                self._battery_told = True
                from firmware.sms import notices
                text = notices.battery_text(self.cfg.get("wearer", ""), pct if pct is not None else 0,
                                            self.cfg.get("lang", "fr"))
                for i in range(len(self.recipients)):
                    await self.queue_message(i, None, "battery_low", text)
            for i, why in self.followups.due(ticks_ms()):
                await self.queue_message(i, "update", why)
            if self.outbox.pending():
                self._to(DISPATCHING)
                await self._dispatch()
                self._to(ACTIVE)
