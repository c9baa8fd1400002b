#!/usr/bin/env bash
# Install what umlharness needs on Debian or Ubuntu: the kernel source packages,
# build tools, static busybox, e2fsprogs and kmod from apt, then this package
# (editable, with its test tools) with pip.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(linux-source-6.1 linux-source-6.12 ccache build-essential flex bison bc kmod e2fsprogs busybox-static patch xz-utils python3-pip python3-venv)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

echo "umlharness: installing apt packages: ${APT_PACKAGES[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null

echo "umlharness: installing the Python package"
if python3 -m pip install -q -e ".[test]" 2>/dev/null; then
	exit 0
fi
# Distro Pythons refuse system-wide pip installs: use a virtual environment.
python3 -m venv .venv
.venv/bin/pip install -q -e ".[test]"
echo "umlharness: installed into .venv; run '. .venv/bin/activate' first"
