#!/usr/bin/env bash
# Builds the 32-bit MicroPython unix port the tests run beside the 64-bit wheel (issue 17): the ESP32
# is a 32-bit machine (small ints end at 2**30, ticks wrap at 2**30, 4-byte pointers), and only a
# 32-bit build shows that. Cached: nothing is rebuilt while the source, this script and the patch are
# unchanged.
#
#   tools/vm32/build.sh [OUT_DIR]        (default: .vm32 in the repository)
#
# Source, in this order: $MICROPYTHON_SRC (a source tree or a release tarball), the vendored
# ../shared/vendor/micropython-1.28.0.tar.xz, or the official release tarball when there is internet.
# ticks-start.patch lets MICROPY_TICKS_MS_START / MICROPY_TICKS_US_START choose the ticks at start.
# romfs-image.patch lets MICROPY_ROMFS_IMAGE name a ROMFS image mounted at /rom, whose .mpy files run
# in place as on a board built with ROMFS (alertbutton bench heap --form romfs).
# Prints the path of the built `micropython` on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/.vm32}"
version=1.28.0
name="micropython-$version"
vendored="$(dirname "$repo")/shared/vendor/$name.tar.xz"
url="https://github.com/micropython/micropython/releases/download/v$version/$name.tar.xz"
make_args=(VARIANT=standard BUILD=build-32 CFLAGS_EXTRA=-m32 LDFLAGS_EXTRA=-m32 MICROPY_PY_FFI=0
           MICROPY_PY_BTREE=0 MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=0 MICROPY_PY_SSL=0)

say() { echo "vm32: $*" >&2; }
die() { echo "vm32: error: $*" >&2; exit 1; }

# 1. where the source comes from, and a key that changes when it does
src="${MICROPYTHON_SRC:-}"
if [ -n "$src" ]; then
    [ -e "$src" ] || die "MICROPYTHON_SRC=$src does not exist (a MicroPython source tree or a $name.tar.xz)"
    src="$(cd "$(dirname "$src")" && pwd)/$(basename "$src")"
    if [ -d "$src" ]; then
        key_src="dir:$(cd "$src" && find py extmod shared ports/unix mpy-cross -type f ! -path '*/build*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
    else
        key_src="tar:$(sha256sum "$src" | cut -d' ' -f1)"
    fi
elif [ -f "$vendored" ]; then
    src="$vendored"
    key_src="tar:$(sha256sum "$src" | cut -d' ' -f1)"
else
    src=""
    key_src="url:$url"
fi
key="$(printf '%s\n%s\n%s\n' "$key_src" "$(sha256sum "$here/build.sh" "$here"/*.patch)" "${make_args[*]}" | sha256sum | cut -d' ' -f1)"
exe="$out/micropython"
if [ -x "$exe" ] && [ "$(cat "$out/.key" 2>/dev/null)" = "$key" ]; then
    echo "$exe"
    exit 0
fi

# 2. a C compiler that can build 32-bit programs (Debian: gcc-multilib)
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'int main(void){return sizeof(void*)==4?0:1;}' > "$probe/t.c"
if ! gcc -m32 "$probe/t.c" -o "$probe/t" 2>/dev/null || ! "$probe/t"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing Debian's gcc-multilib (32-bit libc and gcc support)"
        (apt-get install -y -qq gcc-multilib >/dev/null 2>&1 ||
         (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-multilib >/dev/null)) ||
            die "could not install gcc-multilib with apt-get"
        gcc -m32 "$probe/t.c" -o "$probe/t" && "$probe/t" || die "gcc -m32 still cannot build a 32-bit program"
    else
        die "gcc cannot build 32-bit programs: install gcc-multilib (Debian/Ubuntu: sudo apt-get install gcc-multilib) and run again"
    fi
fi

# 3. a private copy of the source, patched, then built
rm -rf "$out/src"
mkdir -p "$out/src"
if [ -z "$src" ]; then
    say "no MICROPYTHON_SRC and no $vendored: downloading $url"
    command -v curl >/dev/null || die "curl is needed to download $url (or set MICROPYTHON_SRC)"
    curl -fsSL "$url" -o "$probe/$name.tar.xz" ||
        die "could not download $url: set MICROPYTHON_SRC to a MicroPython $version source tree or tarball"
    src="$probe/$name.tar.xz"
fi
if [ -d "$src" ]; then
    cp -a "$src/." "$out/src/"
else
    tar xJf "$src" -C "$out/src" --strip-components=1
fi
for p in ticks-start.patch romfs-image.patch; do
    (cd "$out/src" && patch -p1 --quiet < "$here/$p") || die "$p does not apply to $src (expected MicroPython $version)"
done
say "building the 32-bit unix port (about 15 s)"
log="$out/build.log"
if ! (make -j"$(nproc)" -C "$out/src/mpy-cross" && make -j"$(nproc)" -C "$out/src/ports/unix" "${make_args[@]}") > "$log" 2>&1; then
    tail -20 "$log" >&2
    die "build failed (full log: $log)"
fi
cp "$out/src/ports/unix/build-32/micropython" "$exe"
"$exe" -c "import sys; sys.exit(0 if sys.maxsize == 2**31 - 1 else 1)" || die "$exe is not a 32-bit build"
echo "$key" > "$out/.key"
rm -rf "$out/src"
say "built $exe"
echo "$exe"
