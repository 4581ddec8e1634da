#!/usr/bin/env bash
# Make sure ngspice's shared library (and the ngspice program) are installed.
# As root on Debian/Ubuntu it installs them; otherwise it prints the exact command.
set -euo pipefail
have_lib() { ldconfig -p 2>/dev/null | grep -q 'libngspice\.so' || ls /usr/lib/*/libngspice.so* /usr/lib/libngspice.so* >/dev/null 2>&1; }
if have_lib && command -v ngspice >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-ngspice: installing ngspice and libngspice0 with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq ngspice libngspice0 >/dev/null
    have_lib || { echo "ensure-ngspice: libngspice still missing after apt-get" >&2; exit 1; }
    exit 0
fi
echo "ensure-ngspice: ngspice's shared library is missing. Install it with:" >&2
echo "    sudo apt-get install -y ngspice libngspice0" >&2
echo "then run make again." >&2
exit 1
