"""`alertbutton` host command. Each subcommand lives in its own module exposing
`add_arguments(parser)` and `run(args) -> int`; they are imported only when used."""
import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS = {
    "sim": ("alertbutton.sim", "run the firmware in the MicroPython VM on the simulated board"),
    "bench": ("alertbutton.bench", "benchmarks that print figures (alert latency, ...)"),
    "nmea": ("alertbutton.nmea_cmd", "print one JSON fix per epoch of an NMEA log, parsed in the MicroPython VM"),
    "evidence": ("alertbutton.evidence", "sound evidence: list/export from the button, verify an export, encoder bench"),
    "fall-eval": ("alertbutton.fall_eval", "run the firmware fall detector in the VM over MobiFall trials (JSON)"),
    "fall-plot": ("alertbutton.fall_plot", "PNG of one trial's |a| with the fall detector's phases"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="alertbutton", description=__doc__.splitlines()[0])
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
