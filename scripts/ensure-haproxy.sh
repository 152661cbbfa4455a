#!/bin/sh
# HAProxy from Debian's packages, the front of a local cluster (deploy/haproxy.cfg);
# the cluster failover test needs it. Installed only when missing.
set -eu
command -v haproxy >/dev/null 2>&1 && exit 0
[ -x /usr/sbin/haproxy ] && exit 0
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
# Debian's package starts a service on its default config; the cluster runs its own.
(command -v systemctl >/dev/null 2>&1 && systemctl disable --now haproxy >/dev/null 2>&1) || true
(service haproxy stop >/dev/null 2>&1) || true
