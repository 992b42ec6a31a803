# The standby fix's motion watch (issue 22): "she moved" from the accelerometer while the MCU sleeps.
# The LIS3DH's interrupt generator 2 (drivers/lis3dh.py int2_motion) on the INT1 pin, armed by the
# power task only when the last fix is older than the GNSS refresh age (PowerPolicy.watch_in_ms): a
# still wearer is never woken by it, a moving one at most once per refresh age, and the refresh that
# follows is the only GNSS a standby day costs. Generator 1 and the FIFO belong to the fall monitor.
# accel: the driver object the board made (anything with int2_motion / int2_off / int2_fired).

# Assumption, to check on the bench (docs/power.md, bench protocol): a trunk-worn button's walking
# gives high-passed peaks beyond 400 mg for 80 ms at every step; sitting, sleeping and most shifts in
# a chair do not.
MOVED_MG = 400
MOVED_MS = 80


class MotionWatch:
    def __init__(self, accel, log=None):
        self.accel = accel
        self.log = log
        self.armed = False  # generator 2 is on the INT1 pin (kept across a deep sleep by the caller)
        self.seen = False  # the last arm() found the latch set: she moved while it was armed

    def arm(self):
        """Arm it for the coming sleep (again each time: the fall monitor's INT1 changes may have
        taken generator 2 off the pin). False if the chip refused: the caller must not count on it.
        Arming reads the latch away: if the watch was armed, what it held is in self.seen (she moved
        since the last read), so that the caller loses no move and needs no read of its own."""
        was = self.armed
        self.seen = False
        try:
            fired = self.accel.int2_motion(MOVED_MG, MOVED_MS)
            self.seen = bool(was and fired)
            self.armed = True
        except (AttributeError, OSError, ValueError) as e:
            self.armed = False
            if self.log is not None:
                self.log("motion_watch_failed", err=repr(e))
        return self.armed

    def disarm(self):
        if not self.armed:
            return
        self.armed = False
        try:
            self.accel.int2_off()
        except (AttributeError, OSError) as e:
            if self.log is not None:
                self.log("motion_watch_failed", err=repr(e))

    def fired(self):
        """Whether she moved since it was armed (reading clears the chip's latch)."""
        if not self.armed:
            return False
        try:
            return self.accel.int2_fired()
        except (AttributeError, OSError):
            return False
