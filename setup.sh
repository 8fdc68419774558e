#!/usr/bin/env bash
# One-time set-up for replicate on Debian 12: system packages, then a release build.
#   ./setup.sh              install packages (as root), build, print where the binary is
#   ./setup.sh --deps-only  install packages only (what CI uses)
#   ./setup.sh --no-data    install packages and build, skip the demo corpus
# Idempotent: packages already present are not reinstalled, the build is incremental, and the demo corpus
# (wiki-sample: a Wikipedia XML excerpt shipped in gensim 4.4.0's wheel on PyPI) is fetched once.
set -euo pipefail
cd "$(dirname "$0")"

# libhdf5-dev: the run store; libopenblas-dev: matrix products (the fallback to oneMKL, below); gnuplot-nox: figures (no X11/Qt);
# hdf5-tools: h5dump, used by the tests to check what the store writes;
# libarchive-dev: zip (text8.zip, enwik8.zip; ZIP64 too), tar and tar.gz archives (the CNN question sets);
# openmpi-bin, libopenmpi-dev: data-parallel training under mpirun (libmpi is loaded only by a process mpirun
# started; a plain run never touches it) and the tests that run 2 ranks;
# bzip2: unpacking the wiki-sample corpus (a file inside the gensim wheel on PyPI, fetched with pip, which is
# installed below only if missing).
PACKAGES=(libhdf5-dev libopenblas-dev libarchive-dev gnuplot-nox hdf5-tools pkg-config bzip2 openmpi-bin libopenmpi-dev)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup.sh: missing packages; run as root or: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "setup.sh: installed ${missing[*]}"
fi

# oneMKL's BLAS (the libraries of PyPI's `mkl` wheel that its sequential layer needs, unpacked to
# /opt/replicate-mkl/lib; no Python package is installed): faster products than OpenBLAS 0.3.21's on AVX-512
# (`replicate bench blas` measures both). replicate loads it when present and falls back to OpenBLAS otherwise
# (REPLICATE_BLAS=openblas|mkl chooses).
MKL_VERSION=2026.2.1
MKL_DIR=/opt/replicate-mkl
MKL_LIBS="libmkl_rt.so.3 libmkl_core.so.3 libmkl_sequential.so.3 libmkl_intel_lp64.so.3 libmkl_def.so.3 libmkl_mc3.so.3 libmkl_avx2.so.3 libmkl_avx512.so.3 libmkl_avx10.so.3"
mkl_missing=0
for lib in $MKL_LIBS; do [ -e "$MKL_DIR/lib/$lib" ] || mkl_missing=1; done
if [ "$(uname -m)" = x86_64 ] && [ "$mkl_missing" = 1 ] && [ "${REPLICATE_NO_MKL:-}" != 1 ]; then
    if ! python3 -m pip --version >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq python3-pip >/dev/null; fi
    tmp="$(mktemp -d)"
    if python3 -m pip download -q --no-deps --only-binary=:all: "mkl==$MKL_VERSION" -d "$tmp" 2>"$tmp/err" \
        && python3 - "$tmp" "$MKL_DIR" $MKL_LIBS 2>>"$tmp/err" <<'EOF'
import glob, os, shutil, sys, zipfile
tmp, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
wheel = zipfile.ZipFile(glob.glob(os.path.join(tmp, "mkl-*.whl"))[0])
members = {os.path.basename(n): n for n in wheel.namelist() if "/lib/" in n}
staging = dest + ".partial"
shutil.rmtree(staging, ignore_errors=True)
os.makedirs(os.path.join(staging, "lib"))
for name in names:
    with wheel.open(members[name]) as src, open(os.path.join(staging, "lib", name), "wb") as out:
        shutil.copyfileobj(src, out)
shutil.rmtree(dest, ignore_errors=True)
os.rename(staging, dest)
EOF
    then
        echo "setup.sh: installed oneMKL $MKL_VERSION (BLAS) in $MKL_DIR"
    else
        echo "setup.sh: warning: oneMKL not installed ($(tail -n 1 "$tmp/err" 2>/dev/null)); replicate will use OpenBLAS" >&2
    fi
    rm -rf "$tmp"
fi

[ "${1:-}" = "--deps-only" ] && exit 0

command -v swift >/dev/null || { echo "setup.sh: swift not found; install Swift 6.x from swift.org" >&2; exit 1; }
swift build -c release --product replicate 2>&1 | grep -E "error|warning: |Compiling|Build complete" | grep -v "^\[" || true
bin="$(swift build -c release --show-bin-path)/replicate"
[ -x "$bin" ] || { echo "setup.sh: build failed" >&2; exit 1; }
echo "setup.sh: built $bin"
[ "${1:-}" = "--no-data" ] && exit 0
if ! python3 -m pip --version >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq python3-pip >/dev/null; else echo "setup.sh: pip missing: apt-get install python3-pip" >&2; exit 1; fi
fi
"$bin" data prepare-wiki-sample
