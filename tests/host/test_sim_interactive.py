"""`alertbutton sim` without a scenario: Enter presses the button, the SMS show as received."""
import os
import subprocess
import sys
import threading
import time


def test_three_enters_do_not_alert_and_the_alert_gesture_sends_five_sms(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "alertbutton")
    p = subprocess.Popen([exe, "sim", "--out", str(tmp_path / "out")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, PYTHONUNBUFFERED="1"))  # its lines as it prints them
    lines = []

    def read():
        for line in p.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(text, timeout_s):
        # what the simulator prints, not a fixed sleep: a loaded machine boots the VM and sends the SMS
        # seconds later than an idle one (the sleeps of 3 s and 7 s this test had were guesses)
        deadline = time.monotonic() + timeout_s
        while text not in "".join(lines) and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        return text in "".join(lines)

    try:
        assert wait_for("modem_ready", 60), "".join(lines)
        p.stdin.write("\n\n\n")  # three presses: not the alert gesture (5 taps since issue 20)
        p.stdin.flush()
        # the presses are over before the gesture (at most 0.7 s between taps) could take them as its first
        # ones; the simulator plays each line at once, so this wait is the gap between the two
        time.sleep(3)
        assert "trigger" not in "".join(lines), "".join(lines)
        p.stdin.write("a\n")  # the alert gesture
        p.stdin.flush()
        assert wait_for("dispatch_done", 60), "".join(lines)
        p.stdin.write("q\n")
        p.stdin.flush()
        p.wait(30)
        reader.join(10)
    finally:
        if p.poll() is None:
            p.kill()
    out = "".join(lines)
    assert "SMS 5 ->" in out and "SMS 6 ->" not in out, out
    assert out.count("trigger alert=1") == 1
