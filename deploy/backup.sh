#!/usr/bin/env bash
# Backs up a data directory while danvan keeps running (`danvan backup`:
# SQLite's online backup of the store, with the node key, the unit tree and,
# on the town office's hub, the authority key, in one file readable only by
# its owner) and keeps the newest KEEP backups, removing older ones.
# Usage: backup.sh DATA_DIR OUT_DIR [KEEP]   (KEEP defaults to 14)
# Run daily by danvan-backup.timer; restore with
#   systemctl stop danvan-node   (or danvan-hub)
#   sudo -u danvan danvan --data-dir DATA_DIR restore OUT_DIR/danvan-….dvbak --force
#   systemctl start danvan-node
set -euo pipefail
data=${1:?usage: backup.sh DATA_DIR OUT_DIR [KEEP]}
out=${2:?usage: backup.sh DATA_DIR OUT_DIR [KEEP]}
keep=${3:-14}
case $keep in '' | *[!0-9]* | 0) echo "KEEP phải là số dương: $keep" >&2; exit 2 ;; esac
danvan=${DANVAN_BIN:-danvan}
install -d -m 0700 "$out"
stamp=$(date +%Y%m%d-%H%M%S-%N)
"$danvan" --data-dir "$data" backup --out "$out/danvan-$stamp.dvbak"
# Rotation: names sort by time; only files this script made are counted.
mapfile -t all < <(find "$out" -maxdepth 1 -type f -name 'danvan-*.dvbak' -printf '%f\n' | sort)
excess=$(( ${#all[@]} - keep ))
for (( i = 0; i < excess; i++ )); do
    rm -f -- "$out/${all[$i]}"
    echo "Đã xóa bản sao lưu cũ ${all[$i]}"
done
