# Haptic codes: the wearer's only feedback, felt and never seen or heard. Each is a tuple of
# on/off durations in ms (on, off, on, ...). Kept short and distinct.
GESTURE_SEEN = (120,)  # alert gesture recognised
SENT_ALL = (80, 150, 80)  # every contact's SMS accepted by the network
FAILED = (700,)  # at least one contact could not be reached (retries continue)
NOT_CONFIGURED = (60, 60, 60, 60, 60, 60, 60)  # no contact configured: this device protects nobody
FALL_PROMPT = (300, 200, 300, 200, 300)  # fall detected: one press within the cancel window cancels
FALL_CANCELLED = (40, 100, 40)  # the fall alert was cancelled
