#!/bin/sh
# Install the system programs the lab and the tests need, when they are missing:
# OpenSSH's sshd (the lab's Unix host); for the tests also Chromium (the HTML report test) and
# sudo (the transport's become path against the real program).
set -eu
want=""
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || want="$want openssh-server"
if [ "${1:-}" = "--test" ]; then
    command -v chromium >/dev/null 2>&1 || want="$want chromium"
    command -v sudo >/dev/null 2>&1 || want="$want sudo"
    dpkg -s rsyslog-gnutls >/dev/null 2>&1 || want="$want rsyslog rsyslog-gnutls"
fi
[ -n "$want" ] || exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "installing:$want"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $want >/dev/null
