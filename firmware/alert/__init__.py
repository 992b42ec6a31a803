# The alert: its state machine, the persisted outbox of one SMS per contact, and the
# position follow-ups.
