# The AlertManager stand-in the VM fall harnesses (fall_wake_vm.py, impact_wake_vm.py) hand to the
# firmware's FallMonitor: idle, and the follow-up policy's motion hook does nothing. Runs in the VM.


class IdleAlert:
    state = "idle"

    class followups:
        @staticmethod
        def on_motion(moving):
            pass
