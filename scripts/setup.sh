#!/usr/bin/env bash
# The whole set-up, from a fresh clone (README's first command and .ci/run):
#   1. on Debian/Ubuntu, the system libraries Qt's xcb plugin needs (app/qt/platform.py lists
#      them) and python3-venv, with apt-get (sudo when not root; nothing asked when run as root
#      without a terminal). Skipped when every package is already installed, so a machine whose
#      apt cannot reach a mirror still sets up, as long as nothing is missing.
#   2. .venv with the CPU build of torch first (a bare install would pull the CUDA packages),
#      then ca2sis and its test tools.
#   scripts/setup.sh --system    only step 1 (e.g. an administrator's share of it)
set -euo pipefail
cd "$(dirname "$0")/.."

system_packages() {
    if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
        echo "setup: not Debian/Ubuntu: install Qt's xcb libraries yourself ($(python3 app/qt/platform.py))" >&2
        return 0
    fi
    local wanted missing=()
    wanted="$(python3 app/qt/platform.py)"
    python3 -c "import ensurepip, venv" 2>/dev/null || wanted="$wanted python3-venv"
    for package in $wanted; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "setup: installing ${missing[*]} (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq || true  # an unreachable mirror: the install below says what is missing
    if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        echo "setup: could not install ${missing[*]}; install them, then run scripts/setup.sh again" >&2
        return 1
    fi
}

system_packages
[ "${1:-}" = "--system" ] && exit 0
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e ".[test]"
