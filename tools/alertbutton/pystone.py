"""Pystone: R. Weicker's Dhrystone 1.1 integer benchmark as the classic Python "pystone" procedures
(Proc0..Proc8, Func1..Func3, one record type, module globals), written from the public algorithm.

Runs in CPython and in the MicroPython VM (no imports beyond time). `main(loops)` returns
pystones per second, the unit in which ports are commonly compared (e.g. ~1,660 pystones/s for
MicroPython on an ESP32 at 240 MHz), so a time measured in this VM can be scaled to the device:
    t_device = t_vm * (pystones_vm / pystones_device)
"""
import time

LOOPS = 50000
IDENT1, IDENT2, IDENT3, IDENT4, IDENT5 = 1, 2, 3, 4, 5

if hasattr(time, "ticks_us"):  # MicroPython
    def _now():
        return time.ticks_us()

    def _elapsed(t0, t1):
        return time.ticks_diff(t1, t0) / 1e6
else:
    def _now():
        return time.perf_counter()

    def _elapsed(t0, t1):
        return t1 - t0


class Record:
    def __init__(self, ptr=None, discr=0, enum=0, num=0, text=""):
        self.ptr = ptr
        self.discr = discr
        self.enum = enum
        self.num = num
        self.text = text

    def copy(self):
        return Record(self.ptr, self.discr, self.enum, self.num, self.text)


int_glob = 0
bool_glob = False
char1_glob = "\0"
char2_glob = "\0"
array1_glob = [0] * 51
array2_glob = [[0] * 51 for _ in range(51)]
ptr_glob = None
ptr_glob_next = None


def proc0(loops=LOOPS):
    """Run the benchmark loop; returns (seconds, loops per second)."""
    global int_glob, bool_glob, char1_glob, char2_glob, array1_glob, array2_glob
    global ptr_glob, ptr_glob_next

    t0 = _now()
    for _ in range(loops):
        pass
    null_time = _elapsed(t0, _now())

    ptr_glob_next = Record()
    ptr_glob = Record()
    ptr_glob.ptr = ptr_glob_next
    ptr_glob.discr = IDENT1
    ptr_glob.enum = IDENT3
    ptr_glob.num = 40
    ptr_glob.text = "DHRYSTONE PROGRAM, SOME STRING"
    string1 = "DHRYSTONE PROGRAM, 1'ST STRING"
    array2_glob[8][7] = 10

    t0 = _now()
    for _ in range(loops):
        proc5()
        proc4()
        a = 2
        b = 3
        string2 = "DHRYSTONE PROGRAM, 2'ND STRING"
        enum_loc = IDENT2
        bool_glob = not func2(string1, string2)
        while a < b:
            c = 5 * a - b
            c = proc7(a, b)
            a = a + 1
        proc8(array1_glob, array2_glob, a, c)
        ptr_glob = proc1(ptr_glob)
        ch = "A"
        while ch <= char2_glob:
            if enum_loc == func1(ch, "C"):
                enum_loc = proc6(IDENT1)
            ch = chr(ord(ch) + 1)
        c = b * a
        b = c // a
        b = 7 * (c - b) - a
        a = proc2(a)
    bench = _elapsed(t0, _now()) - null_time
    if bench <= 0:
        bench = 1e-6
    return bench, loops / bench


def proc1(rec):
    nxt = rec.ptr = ptr_glob.copy()
    rec.num = 5
    nxt.num = rec.num
    nxt.ptr = rec.ptr
    nxt.ptr = proc3(nxt.ptr)
    if nxt.discr == IDENT1:
        nxt.num = 6
        nxt.enum = proc6(rec.enum)
        nxt.ptr = ptr_glob.ptr
        nxt.num = proc7(nxt.num, 10)
    else:
        rec = nxt.copy()
    nxt.ptr = None
    return rec


def proc2(val):
    loc = val + 10
    while True:
        if char1_glob == "A":
            loc = loc - 1
            val = loc - int_glob
            enum_loc = IDENT1
        if enum_loc == IDENT1:
            break
    return val


def proc3(ptr):
    global int_glob
    if ptr_glob is not None:
        ptr = ptr_glob.ptr
    else:
        int_glob = 100
    ptr_glob.num = proc7(10, int_glob)
    return ptr


def proc4():
    global char2_glob
    flag = char1_glob == "A"
    flag = flag or bool_glob
    char2_glob = "B"


def proc5():
    global char1_glob, bool_glob
    char1_glob = "A"
    bool_glob = False


def proc6(enum_in):
    enum_out = enum_in
    if not func3(enum_in):
        enum_out = IDENT4
    if enum_in == IDENT1:
        enum_out = IDENT1
    elif enum_in == IDENT2:
        if int_glob > 100:
            enum_out = IDENT1
        else:
            enum_out = IDENT4
    elif enum_in == IDENT3:
        enum_out = IDENT2
    elif enum_in == IDENT4:
        pass
    elif enum_in == IDENT5:
        enum_out = IDENT3
    return enum_out


def proc7(a, b):
    loc = a + 2
    return b + loc


def proc8(arr1, arr2, a, b):
    global int_glob
    loc = a + 5
    arr1[loc] = b
    arr1[loc + 1] = arr1[loc]
    arr1[loc + 30] = loc
    for idx in range(loc, loc + 2):
        arr2[loc][idx] = loc
    arr2[loc][loc - 1] = arr2[loc][loc - 1] + 1
    arr2[loc + 20][loc] = arr1[loc]
    int_glob = 5


def func1(c1, c2):
    loc1 = c1
    loc2 = loc1
    if loc2 != c2:
        return IDENT1
    return IDENT2


def func2(s1, s2):
    idx = 1
    while idx <= 1:
        if func1(s1[idx], s2[idx + 1]) == IDENT1:
            ch = "A"
            idx = idx + 1
    if "W" <= ch <= "Z":
        idx = 7
    if ch == "X":
        return True
    if s1 > s2:
        idx = idx + 7
        return True
    return False


def func3(enum_in):
    return enum_in == IDENT3


def main(loops=LOOPS):
    """Pystones per second of the running interpreter (one run of `loops` iterations)."""
    return proc0(loops)[1]


if __name__ == "__main__":
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else LOOPS
    secs, rate = proc0(n)
    print("Pystone(1.1) time for %d passes = %g" % (n, secs))
    print("This machine benchmarks at %d pystones/second" % rate)
