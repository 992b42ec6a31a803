# umqtt.simple 1.3.4 (the micropython-lib release on PyPI, installed by tests and the simulator with
# mip from a local index: tools/alertbutton/mplib.py) imports ussl; MicroPython >= 1.21 only has ssl.
# Test and simulator path only: a board gets the current umqtt.simple from mip, which uses ssl.
from ssl import *  # noqa: F401,F403  (wrap_socket, CERT_REQUIRED, SSLContext)
