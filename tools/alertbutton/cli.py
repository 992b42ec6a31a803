"""`alertbutton` host command. Each subcommand lives in its own module exposing
`add_arguments(parser)` and `run(args) -> int`; they are imported only when used."""
import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS = {
    "sim": ("alertbutton.sim.run", "run the firmware in the MicroPython VM on the simulated board"),
    "fuzz": ("alertbutton.checks.fuzz", "fuzz the device parsers inside the MicroPython VM (10^5 inputs each)"),
    "bench": ("alertbutton.bench.alert", "benchmarks that print figures (alert latency, ...)"),
    "bench-nmea": ("alertbutton.bench.nmea_parser", "NMEA parser cost per sentence in ESP32 terms, beside as_GPS"),
    "nmea": ("alertbutton.checks.nmea_decode", "print one JSON fix per epoch of an NMEA log, parsed in the MicroPython VM"),
    "evidence": ("alertbutton.evidence.export", "sound evidence: list/export from the button, verify an export, encoder bench"),
    "fall-eval": ("alertbutton.falls.command", "run the firmware fall detector in the VM over MobiFall trials (JSON)"),
    "fall-plot": ("alertbutton.falls.plot", "PNG of one trial's |a| with the fall detector's phases"),
    "faults": ("alertbutton.checks.modem_faults", "modem fault suite: firmware vs 26 modem fault scenarios, table of outcomes"),
    "energy": ("alertbutton.energy.battery_life", "battery life of a simulated day from the firmware's power accounting"),
    # technician commands on a connected button (alertbutton/device/technician.py): alertbutton --port P ...
    "status": ("alertbutton.device.technician", "firmware, modem, battery, last fix and last alert of the button"),
    "contacts": ("alertbutton.device.technician", "list, set or clear the five trusted contacts"),
    "wearer": ("alertbutton.device.technician", "show or set the wearer's name (as the SMS will show it)"),
    "lang": ("alertbutton.device.technician", "show or set the SMS language (fr, en)"),
    "gesture": ("alertbutton.device.technician", "show or set the alert gestures"),
    "preview": ("alertbutton.device.technician", "the exact SMS each contact would receive now, with segment counts"),
    "test-alert": ("alertbutton.device.technician", "send a clearly marked TEST SMS to some or all contacts"),
    "logs": ("alertbutton.device.technician", "the button's recent event log"),
    "unlock": ("alertbutton.device.technician", "enter the technician PIN (once per session)"),
    "lock": ("alertbutton.device.technician", "end the technician session"),
    "pin": ("alertbutton.device.technician", "set or change the technician PIN"),
    "config": ("alertbutton.device.technician", "export or import the configuration as JSON (provision many alike)"),
    "factory-reset": ("alertbutton.device.technician", "erase contacts, wearer, PIN and every data file"),
    "ports": ("alertbutton.device.technician", "list the serial ports"),
    "keys": ("alertbutton.device.technician", "the button's device key (keys device), the association key recordings "
             "are sealed to (keys set-association HEX|FILE), the association's key pair (keys association new)"),
    "selftest": ("alertbutton.device.technician", "check each part of the board before handing it out (pass/fail per part)"),
    "web": ("alertbutton.web.command", "a local web page for the technician (loopback only, token in the URL)"),
    "provision": ("alertbutton.device.provision", "apply a fleet template and this button's platform credentials"),
    "deploy": ("alertbutton.device.deploy", "install the firmware with mpy-cross + mpremote, keeping the config"),
    "vm-board": ("alertbutton.device.deploy", "a MicroPython VM REPL on a pty, to try deploy/mpremote without hardware"),
    "powercut": ("alertbutton.checks.config_path", "power cut at every flash write of a config change, in the VM"),
    "console-fuzz": ("alertbutton.checks.config_path", "fuzz the console line parser in the VM"),
    "layers": ("alertbutton.layers", "check the import rules of the tree (layers one way, no host import circle)"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="alertbutton", description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="serial port of the button (technician commands, deploy)")
    parser.add_argument("--json", action="store_true", help="JSON output (technician commands)")
    parser.add_argument("--keep-unlocked", action="store_true",
                        help="technician commands: leave a session they unlocked open (default: locked at exit)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (modname, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=modname)
        try:
            importlib.import_module(modname).add_arguments(p)
        except ImportError as e:  # one broken tool must not take the others down
            p.set_defaults(_broken="%s is unavailable: %s" % (name, e))
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    if getattr(args, "_broken", None):
        print("error: " + args._broken, file=sys.stderr)
        return 2
    try:
        return importlib.import_module(args._module).run(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
