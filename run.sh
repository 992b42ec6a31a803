#!/usr/bin/env bash
# One entry point for a fresh machine: sets up .venv (once) and then
#   ./run.sh demo   - boots the firmware on the simulated board and fires one alert (five SMS shown)
#   ./run.sh test   - runs the whole test suite (pytest; device tests run inside the MicroPython VM)
#   ./run.sh <any alertbutton subcommand...>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$here[test]"
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
cmd="${1:-demo}"
case "$cmd" in
    demo) shift || true; exec alertbutton sim --scenario "$here/scenarios/demo.json" --out "$here/out/demo" "$@" ;;
    # tests run in parallel workers: most of them wait on simulated modems and real-time scenarios
    test) shift || true; exec python -m pytest "$here/tests" -n "${ALERTBUTTON_TEST_WORKERS:-3}" --dist loadfile "$@" ;;
    *) exec alertbutton "$@" ;;
esac
