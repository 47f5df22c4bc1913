#!/usr/bin/env bash
# Installs danvan as a service: `install.sh hub UNIT` or `install.sh node UNIT`.
# Builds the release binary, creates the danvan user and data directory,
# initializes the store if it has none, and enables the systemd unit.
set -euo pipefail
role=${1:?usage: install.sh hub|node UNIT}
unit=${2:?usage: install.sh hub|node UNIT (e.g. duc-pho, pho-minh)}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
cargo build --release -p danvan-cli
install -m 0755 target/release/danvan /usr/local/bin/danvan
id danvan >/dev/null 2>&1 || useradd --system --home /var/lib/danvan --shell /usr/sbin/nologin danvan
install -d -o danvan -g danvan -m 0750 /var/lib/danvan
install -d -m 0755 /etc/danvan
[ -f "/etc/danvan/$role.env" ] || install -m 0644 "deploy/$role.env.example" "/etc/danvan/$role.env"
# shellcheck disable=SC1090
. "/etc/danvan/$role.env"
if [ ! -f "$DANVAN_DATA_DIR/danvan.db" ]; then
    # The town office's hub holds the town's authority key and signs the roster.
    authority=()
    [ "$role" = hub ] && authority=(--authority)
    sudo -u danvan /usr/local/bin/danvan --data-dir "$DANVAN_DATA_DIR" init "${authority[@]}" --unit "$unit"
fi
install -m 0644 "deploy/danvan-$role.service" /etc/systemd/system/
# Daily backups with rotation (/var/backups/danvan, newest 14 kept).
install -d -m 0755 /usr/local/lib/danvan
install -m 0755 deploy/backup.sh /usr/local/lib/danvan/backup.sh
install -d -o danvan -g danvan -m 0700 /var/backups/danvan
install -m 0644 deploy/danvan-backup.service deploy/danvan-backup.timer /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now "danvan-$role"
systemctl enable --now danvan-backup.timer
echo "Mã nút: $(sudo -u danvan /usr/local/bin/danvan --data-dir "$DANVAN_DATA_DIR" id)"
if [ "$role" = node ]; then
    echo "Gửi mã nút này cho văn phòng thị xã; khi nhận lời mời, chạy:"
    echo "  sudo -u danvan danvan --data-dir $DANVAN_DATA_DIR join LỜI_MỜI"
fi
