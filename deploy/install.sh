#!/usr/bin/env bash
# Installs danvan as a service from the release tarball (deploy/package.sh):
#   sudo deploy/install.sh [--binary PATH] [--prefix DIR] [--destdir DIR] hub|node UNIT
# Takes a prebuilt binary (the tarball's bin/danvan, or --binary PATH) and
# never compiles: build as a normal user (`cargo build --profile dist -p
# danvan-cli`, or deploy/package.sh), never as root. Installs the binary
# and backup.sh under PREFIX (default /usr/local), the units in
# /etc/systemd/system, /etc/danvan/ROLE.env (kept if there), creates the
# danvan user and /var/lib/danvan (0700), initializes the store if it has
# none, then:
#   hub:  enables and starts danvan-hub (it holds the town's authority key:
#         it is the town from its first start) and the daily backup timer;
#   node: enables the backup timer, and danvan-node only once the store has
#         joined its town (a roster is held). Before that it prints how to
#         join; run install.sh again afterwards (or systemctl enable --now
#         danvan-node).
# --destdir DIR installs into DIR as a staging root (packaging, tests): no
# user is created, nothing is chowned, systemd is not called (units are
# enabled by their wants/ links, as systemctl enable makes them), and the
# store is made by the current user.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=""
prefix=/usr/local
destdir=""
usage="usage: install.sh [--binary PATH] [--prefix DIR] [--destdir DIR] hub|node UNIT"
while [ $# -gt 0 ]; do
    case $1 in
        --binary) binary=${2:?--binary cần đường dẫn}; shift 2 ;;
        --prefix) prefix=${2:?--prefix cần thư mục}; shift 2 ;;
        --destdir) destdir=${2:?--destdir cần thư mục}; shift 2 ;;
        -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "tùy chọn không hiểu: $1 ($usage)" >&2; exit 2 ;;
        *) break ;;
    esac
done
role=${1:?$usage}
unit=${2:?$usage (ví dụ duc-pho, pho-minh)}
case $role in hub | node) ;; *) echo "vai trò phải là hub hoặc node: $role" >&2; exit 2 ;; esac
if [ -z "$binary" ]; then
    binary="$here/../bin/danvan"
    if [ ! -x "$binary" ]; then
        echo "Không thấy tệp chạy danvan ($binary)." >&2
        echo "Dùng gói phát hành danvan-…-x86_64-linux.tar.gz, hoặc biên dịch bằng tài khoản thường" >&2
        echo "(cargo build --profile dist -p danvan-cli) rồi chạy: sudo $0 --binary target/dist/danvan $role $unit" >&2
        echo "Không biên dịch bằng tài khoản root." >&2
        exit 1
    fi
fi
[ -x "$binary" ] || { echo "không có tệp chạy được: $binary" >&2; exit 1; }
"$binary" --version >/dev/null || { echo "$binary không chạy được trên máy này" >&2; exit 1; }
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
    echo "Cần quyền root để cài dịch vụ (hoặc dùng --destdir)." >&2
    exit 1
fi
bin="$prefix/bin/danvan"
lib="$prefix/lib/danvan"
units="$destdir/etc/systemd/system"

install -d -m 0755 "$destdir$prefix/bin" "$destdir$lib" "$units" "$destdir/etc/danvan"
install -m 0755 "$binary" "$destdir$bin"
install -m 0755 "$here/backup.sh" "$destdir$lib/backup.sh"
for file in "danvan-$role.service" danvan-backup.service danvan-backup.timer; do
    sed -e "s|/usr/local/bin/danvan|$bin|g" -e "s|/usr/local/lib/danvan|$lib|g" \
        "$here/$file" > "$units/$file"
    chmod 0644 "$units/$file"
done
[ -f "$destdir/etc/danvan/$role.env" ] || install -m 0644 "$here/$role.env.example" "$destdir/etc/danvan/$role.env"
# shellcheck disable=SC1090
. "$destdir/etc/danvan/$role.env"
data="$destdir$DANVAN_DATA_DIR"

# The danvan user and its directories; the store and keys are its alone.
as_danvan=()
if [ -z "$destdir" ]; then
    getent passwd danvan >/dev/null || useradd --system --user-group --home-dir /var/lib/danvan \
        --no-create-home --shell /usr/sbin/nologin danvan
    as_danvan=(runuser -u danvan --)
fi
for dir in "$destdir/var/lib/danvan" "$destdir/var/backups/danvan"; do
    install -d -m 0700 "$dir"
    [ -n "$destdir" ] || chown danvan:danvan "$dir"
done
if [ ! -f "$data/danvan.db" ] && [ -z "${DANVAN_PASSPHRASE_FILE:-}" ] \
    && [ -z "${DANVAN_KEY_FILE:-}" ] && [ ! -f "$data/store.key" ]; then
    # A service starts unattended: its store is encrypted with a random key
    # kept beside it, readable by the danvan user only (README: the
    # key-file trade-off; a laptop uses a passphrase instead).
    install -d -m 0700 "$data"
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$data/store.key" && echo >>"$data/store.key")
    [ -n "$destdir" ] || chown danvan:danvan "$data" "$data/store.key"
fi
if [ ! -f "$data/danvan.db" ]; then
    # The town office's hub holds the town's authority key and signs the roster.
    authority=()
    [ "$role" = hub ] && authority=(--authority)
    "${as_danvan[@]}" "$destdir$bin" --data-dir "$data" init "${authority[@]}" --unit "$unit"
fi

# Enables a unit as `systemctl enable` does (its WantedBy= link), and with
# no --destdir starts it too.
enable_unit() {
    local name=$1 target
    target=$(sed -n 's/^WantedBy=//p' "$units/$name")
    if [ -n "$destdir" ]; then
        install -d "$units/$target.wants"
        ln -sfn "../$name" "$units/$target.wants/$name"
    else
        systemctl enable --now "$name"
    fi
}
[ -n "$destdir" ] || systemctl daemon-reload
enable_unit danvan-backup.timer
id=$("${as_danvan[@]}" "$destdir$bin" --data-dir "$data" id)
echo "Mã nút: $id"
joined=$("${as_danvan[@]}" "$destdir$bin" --data-dir "$data" roster show --json)
if [ "$role" = hub ] || [ "$joined" != null ]; then
    enable_unit "danvan-$role.service"
    echo "Đã bật dịch vụ danvan-$role."
else
    echo "Nút chưa tham gia thị xã nên dịch vụ danvan-node chưa được bật."
    echo "Gửi mã nút này cho văn phòng thị xã; khi nhận lời mời, chạy:"
    echo "  runuser -u danvan -- $bin --data-dir $DANVAN_DATA_DIR join LỜI_MỜI"
    echo "sửa DANVAN_HUB trong /etc/danvan/node.env, rồi chạy lại install.sh (hoặc systemctl enable --now danvan-node)."
fi
