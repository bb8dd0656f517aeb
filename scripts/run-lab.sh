#!/bin/sh
# `make run`: start the local lab, show its inventory and health, audit it twice with a change in
# between (the first audit records baselines, the second reports the change), then stop the lab.
# Usage: scripts/run-lab.sh OSPATROL_BIN LAB_DIR
set -eu
ospatrol=${1:?usage: run-lab.sh OSPATROL_BIN LAB_DIR}
lab_dir=${2:?usage: run-lab.sh OSPATROL_BIN LAB_DIR}
inventory="$lab_dir/inventory.yml"
state_dir=var/ospatrol
report=var/report.html
# Every lab host: Unix and ESXi over SSH, the IOS switch and the simulated devices through
# their CLI (netmiko).
hosts='all'

trap '"$ospatrol" lab down --dir "$lab_dir"' EXIT
trap 'exit 130' INT TERM

# 1 (findings) and 2 (some host not audited) are audit results, not failures of this script.
audit() {
    status=0
    "$ospatrol" --state-dir "$state_dir" audit -i "$inventory" --limit "$hosts" "$@" || status=$?
    [ "$status" -le 2 ] || exit "$status"
    echo "audit exit status $status"
}

"$ospatrol" lab up --dir "$lab_dir"
"$ospatrol" inventory list -i "$inventory"
"$ospatrol" lab status --dir "$lab_dir"

echo "== audit 1: baselines"
audit --format text
echo "== changing the lab: a new UID-0 account and its password hash, a new secret, a new file, a looser permission"
tree="$lab_dir/sshd/tree"
# Content diffs show the new lines; the hash and the token are masked (never in reports or store).
echo "intruder:x:0:0::/root:/bin/sh" >>"$tree/etc/passwd"
echo 'intruder:$6$Xy7salt$IntruderHashIntruderHashIntruderHash:20000:0:99999:7:::' >>"$tree/etc/shadow"
echo "api_token = $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >>"$tree/etc/app/app.conf"
echo "listen = 0.0.0.0" >"$tree/etc/app/override.conf"
chmod 0777 "$tree/bin/tool"
# A firewall rule opened on the simulated ASA: a config change with its parent block.
for config in "$lab_dir"/sim/hosts/sim-asa-*/running-config; do
    echo "access-list OUTSIDE_IN extended permit tcp any any eq 3389" >>"$config"
done
echo "== audit 2: what changed"
audit --format text
"$ospatrol" --state-dir "$state_dir" report --format html --output "$report"
echo "results: $report (HTML), store $state_dir/ospatrol.db; re-render: ospatrol report --format text|json|junit"
"$ospatrol" --state-dir "$state_dir" report --format summary
