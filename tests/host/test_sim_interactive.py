"""`alertbutton sim` without a scenario: Enter presses the button, the SMS show as received."""
import os
import subprocess
import sys
import time


def test_three_enters_do_not_alert_and_the_alert_gesture_sends_five_sms(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "alertbutton")
    p = subprocess.Popen([exe, "sim", "--out", str(tmp_path / "out")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)
        p.stdin.write("\n\n\n")  # three presses: not the alert gesture (5 taps since issue 20)
        p.stdin.flush()
        time.sleep(3)
        p.stdin.write("a\n")  # the alert gesture
        p.stdin.flush()
        time.sleep(7)
        p.stdin.write("q\n")
        p.stdin.flush()
        out = p.communicate(timeout=30)[0]
    finally:
        if p.poll() is None:
            p.kill()
    assert "SMS 5 ->" in out and "SMS 6 ->" not in out, out
    assert out.count("trigger alert=1") == 1
