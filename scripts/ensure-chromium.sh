#!/bin/sh
# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download cannot work here). Install it only when it is missing.
set -eu
[ -x /usr/bin/chromium ] && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
echo "installed $(/usr/bin/chromium --version)"
