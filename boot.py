# Runs first at every reset. Keep it tiny: room for tracebacks raised in interrupt handlers.
import micropython

if hasattr(micropython, "alloc_emergency_exception_buf"):  # absent on the unix port (no real ISRs)
    micropython.alloc_emergency_exception_buf(128)
