# Setting defaults for the heap the board has (issue 17). The firmware's own defaults are the
# reference board's: an ESP32-WROVER, whose 4 MB of PSRAM hold MicroPython's heap. A board without
# PSRAM (an ESP32-WROOM: about 110 KB of heap once MicroPython runs) cannot hold their largest
# buffer, the pre-alert audio ring (30 s + 8 s of headroom: 150 KB, firmware/evidence/audio_ring.py). A heap
# smaller than SMALL_HEAP therefore gets SMALL's values for every setting its configuration does not
# set; a setting stored on the device always wins. The heap is measured, not declared: the same
# firmware does the right thing on either module, and the simulated board follows its -X heapsize.
# See docs/memory.md for the figures behind the values.
import gc

SMALL_HEAP = 1024 * 1024  # no ESP32 without PSRAM comes near it, none with PSRAM below it
SMALL = {
    # the pre-alert ring: 5 s before the alert instead of 30 s, and 2 s instead of 8 s of room for
    # the copy to flash at the alert: 28 KB instead of 150 KB (each second is 4 KB)
    "evidence_prealert_s": 5,
    "evidence_headroom_s": 2,
    "log_keep": 16,  # event-log lines kept in RAM for the console's `log tail`, instead of 64
}


def heap_bytes():
    """The size of MicroPython's heap (free + allocated)."""
    return gc.mem_free() + gc.mem_alloc()


def apply(cfg, heap=None):
    """Put SMALL's values into cfg (a settings dict) where it has none, if the heap is small.
    Returns the names set (empty on a large heap)."""
    heap = heap_bytes() if heap is None else heap
    if heap >= SMALL_HEAP:
        return []
    out = []
    for k in SMALL:
        if k not in cfg:
            cfg[k] = SMALL[k]
            out.append(k)
    return out
