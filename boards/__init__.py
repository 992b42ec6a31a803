# Board profiles: the only place that constructs Pin/UART/I2C/I2S objects.


def select():
    """The profile for the hardware this runs on: the ESP32 reference board, or the simulated board
    when running in the MicroPython unix port."""
    import sys
    if sys.platform == "esp32":
        from boards.esp32_a7670e import Board
    else:
        from boards.sim import Board
    return Board()
