#!/usr/bin/env bash
# Backs up a data directory while danvan may be running: SQLite's online
# backup of the database (consistent), the node key and the unit tree.
# Usage: backup.sh DATA_DIR OUT_DIR
set -euo pipefail
data=${1:?usage: backup.sh DATA_DIR OUT_DIR}
out=${2:?usage: backup.sh DATA_DIR OUT_DIR}
stamp=$(date +%Y%m%d-%H%M%S)
dest="$out/danvan-$stamp"
mkdir -p "$dest"
sqlite3 "$data/danvan.db" ".backup '$dest/danvan.db'"
cp "$data/node.key" "$data/units.toml" "$dest/"
chmod 600 "$dest/node.key"
# The town office's data directory also holds the town's authority key.
if [ -f "$data/authority.key" ]; then
    cp "$data/authority.key" "$dest/"
    chmod 600 "$dest/authority.key"
fi
echo "Đã sao lưu vào $dest"
