# Haptic codes: the wearer's only feedback, felt and never seen or heard. Each is a tuple of
# on/off durations in ms (on, off, on, ...). Kept short and distinct: no two codes with different
# meanings have the same felt shape (pulse count and short/medium/long pulses; see
# tests/device/test_haptics.py and docs/haptics.md). A name listed in ALIASES means the same thing
# as its target and vibrates the same.
GESTURE_SEEN = (120,)  # alert gesture recognised
SENT_ALL = (80, 150, 80)  # every contact's SMS accepted by the network
FAILED = (700,)  # at least one contact could not be reached, or no network (retries continue)
NOT_CONFIGURED = (60, 60, 60, 60, 60, 60, 60)  # no contact configured: this device protects nobody
FALL_PROMPT = (300, 200, 300, 200, 300)  # fall detected: one press within the cancel window cancels
ACKNOWLEDGED = (400, 200, 100, 120, 100)  # a contact answered OK / RECU: help is coming
CANCEL = (500, 250, 500)  # alert or fall countdown cancelled
STOPPED_BY_CONTACT = (700, 200, 300, 200, 100)  # a contact ended the alert with STOP <PIN>: long, medium, short
# a duress "cancel": exactly CANCEL, then after a pause one tick only the wearer knows means
# "the alert is still running"
DURESS_CANCEL = CANCEL + (800, 70)
# during an alert, a press held 5 s: "let go, then tap the cancel (or the duress) count"
CANCEL_ASK = (100, 200, 300)
CHECKIN_DUE = (100, 100, 100, 400, 600)  # check-in due soon: answer "I'm fine"
CHECKIN_OK = (600, 200, 100)  # check-in received
ARMED = (250, 150, 250)  # the pre-alert ring is armed ("he is coming"): two medium pulses
SELFTEST = (300,)  # the technician's self-test asked for a pulse (`selftest --vibrate`); never on its own

NO_NETWORK = FAILED
FALL_CANCELLED = CANCEL  # one "cancelled" feel to learn, whatever was cancelled
ALIASES = {"NO_NETWORK": "FAILED", "FALL_CANCELLED": "CANCEL"}
