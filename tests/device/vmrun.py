# Runs inside the MicroPython VM: imports one device test module and runs its test_* functions.
# Prints one marker line per test so the pytest plugin (tests/conftest.py) can report each.
import sys
import asyncio


def main(modname, only=None):
    mod = __import__(modname)
    names = [n for n in sorted(dir(mod)) if n.startswith("test_")]
    for name in names:
        if only and name not in only:
            continue
        fn = getattr(mod, name)
        print("@@START", name)
        try:
            res = fn()
            if res is not None and hasattr(res, "send"):
                asyncio.run(res)
            print("@@PASS", name)
        except Exception as e:  # report and keep running the other tests
            print("@@FAIL", name)
            sys.print_exception(e, sys.stdout)
            print("@@END", name)


main(sys.argv[1], sys.argv[2:])
