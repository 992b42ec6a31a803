# Network interfaces of the ESP32 board for the platform link (issue 9), built only when
# platform.json asks for them: Wi-Fi station, or PPP over the modem's only UART. `network` is
# imported here, never by firmware/ or drivers/ (the unix port has no network.PPP).
import network


def wlan():
    return network.WLAN(network.STA_IF)


def ppp(modem, uart, apn=None):
    """(network.PPP(uart), dial, hangup) for drivers.datalink.PppLink. dial() puts the modem in data
    mode on the APN (the AT channel then leaves the UART to PPP); hangup() gives it back to AT
    commands. PPP reads the UART only between its connect() and disconnect()."""

    async def dial():
        return await modem.dial(apn)

    return network.PPP(uart), dial, modem.hangup
