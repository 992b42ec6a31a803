# The technician console on the USB serial (AB1 protocol), loaded on a technician's first
# byte, and the board self-test.
