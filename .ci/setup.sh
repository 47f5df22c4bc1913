#!/bin/sh
# Installs what the test suite needs beyond the Rust toolchain:
# - rustfmt and clippy, for CI's checks;
# - Debian's chromium, used headless by the report tests to render the HTML
#   report's charts, and its chromium-driver, through which the web app's
#   browser tests drive it (WebDriver);
# - prlimit (util-linux), used by the storage-fault tests to make writes fail
#   past a file-size limit.
# - ip (iproute2), with which the LAN discovery test (tests/e2e/join.rs)
#   makes two network namespaces joined by a veth pair for its mDNS.
# The package tests (tests/e2e/package.rs) use tar, gzip and dpkg-deb, which
# every Debian or Ubuntu system has (dpkg is essential there).
# Idempotent: does nothing when everything is already there.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
if ! command -v prlimit >/dev/null 2>&1; then
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends util-linux
fi
prlimit --version
if ! command -v ip >/dev/null 2>&1; then
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends iproute2
fi
ip -V
if command -v rustup >/dev/null 2>&1; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
    echo "chromedriver: already installed ($(/usr/bin/chromedriver --version 2>/dev/null || echo unknown version))"
    exit 0
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core
/usr/bin/chromium --version
/usr/bin/chromedriver --version
