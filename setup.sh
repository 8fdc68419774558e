#!/usr/bin/env bash
# One-time set-up for replicate on Debian 12: system packages, then a release build.
#   ./setup.sh              install packages (as root), build, print where the binary is
#   ./setup.sh --deps-only  install packages only (what CI uses)
#   ./setup.sh --no-data    install packages and build, skip the demo corpus
# Idempotent: packages already present are not reinstalled, the build is incremental, and the demo corpus
# (wiki-sample: a Wikipedia XML excerpt shipped in gensim 4.4.0's wheel on PyPI) is fetched once.
set -euo pipefail
cd "$(dirname "$0")"

# libhdf5-dev: the run store; libopenblas-dev: matrix products; gnuplot-nox: figures (no X11/Qt);
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
