#!/usr/bin/env bash
# Builds the release packages of danvan from one binary:
#   dist/danvan-VERSION-x86_64-linux.tar.gz  (bin/danvan, deploy/, README.md, LICENSE;
#                                             install with deploy/install.sh)
#   dist/danvan_VERSION_amd64.deb             (/usr/bin/danvan, units in /lib/systemd/system,
#                                             /etc/danvan/*.env as conffiles; postinst creates
#                                             the danvan user and /var/lib/danvan, starts nothing)
# Usage: deploy/package.sh [--binary PATH] [--out DIR]
#   --binary PATH  package this binary instead of building it (`cargo build --profile
#                  dist -p danvan-cli` as the current user, never as root: the release
#                  build with link-time optimisation, see Cargo.toml); the tests pass
#                  their debug binary so CI builds nothing twice
#   --out DIR      where the two files go (default: dist/)
#   --fast         light compression (gzip -1 for both): what the tests use
# The binary is packaged with its debug sections stripped (`strip
# --strip-debug`: a backtrace still names the functions).
# Needs tar, gzip and dpkg-deb (Debian's dpkg). The VERSION is the workspace's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
binary=""
out="$root/dist"
fast=0
while [ $# -gt 0 ]; do
    case $1 in
        --binary) binary=${2:?--binary cần đường dẫn}; shift 2 ;;
        --out) out=${2:?--out cần thư mục}; shift 2 ;;
        --fast) fast=1; shift ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "tùy chọn không hiểu: $1 (xem --help)" >&2; exit 2 ;;
    esac
done
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$root/Cargo.toml")
[ -n "$version" ] || { echo "không đọc được phiên bản trong Cargo.toml" >&2; exit 1; }
if [ -z "$binary" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "Không biên dịch bằng tài khoản root: chạy lại bằng tài khoản thường, hoặc chỉ định --binary." >&2
        exit 1
    fi
    (cd "$root" && cargo build --profile dist -p danvan-cli)
    binary="$root/target/dist/danvan"
fi
[ -x "$binary" ] || { echo "không có tệp chạy được: $binary" >&2; exit 1; }
said=$("$binary" --version)
[ "$said" = "danvan $version" ] || { echo "$binary là '$said', không phải danvan $version" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Every file of both packages has this time and owner: the same inputs give
# the same packages.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$binary" "$stage/danvan"
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$stage/danvan"
fi
binary="$stage/danvan"
if [ "$fast" = 1 ]; then
    gzip_level=-1 deb_compress=(-Zgzip -z1)
else
    gzip_level=-9 deb_compress=(-Zxz)
fi

# --- the tarball
name="danvan-$version-x86_64-linux"
t="$stage/$name"
install -d "$t/bin" "$t/deploy"
install -m 0755 "$binary" "$t/bin/danvan"
install -m 0755 "$here/install.sh" "$here/backup.sh" "$t/deploy/"
install -m 0644 "$here"/*.service "$here"/*.timer "$here"/*.env.example "$t/deploy/"
install -m 0644 "$root/README.md" "$root/LICENSE" "$t/"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -C "$stage" -cf - "$name" | gzip -n "$gzip_level" > "$out/$name.tar.gz"

# --- the .deb: the units' /usr/local paths become the package's.
d="$stage/deb"
install -d "$d/DEBIAN" "$d/usr/bin" "$d/usr/lib/danvan" "$d/lib/systemd/system" \
    "$d/etc/danvan" "$d/usr/share/doc/danvan"
install -m 0755 "$binary" "$d/usr/bin/danvan"
install -m 0755 "$here/backup.sh" "$d/usr/lib/danvan/backup.sh"
for unit in "$here"/*.service "$here"/*.timer; do
    sed -e 's|/usr/local/bin/danvan|/usr/bin/danvan|g' \
        -e 's|/usr/local/lib/danvan|/usr/lib/danvan|g' \
        "$unit" > "$d/lib/systemd/system/$(basename "$unit")"
    chmod 0644 "$d/lib/systemd/system/$(basename "$unit")"
done
for role in hub node; do
    install -m 0644 "$here/$role.env.example" "$d/etc/danvan/$role.env"
done
install -m 0644 "$root/README.md" "$d/usr/share/doc/danvan/README.md"
install -m 0644 "$root/LICENSE" "$d/usr/share/doc/danvan/copyright"
install -m 0755 "$here/deb/postinst" "$here/deb/prerm" "$here/deb/postrm" "$d/DEBIAN/"
printf '/etc/danvan/hub.env\n/etc/danvan/node.env\n' > "$d/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" "$here/deb/control" > "$d/DEBIAN/control"
find "$d" -exec touch -h -d "@$epoch" {} +
dpkg-deb --root-owner-group "${deb_compress[@]}" --build "$d" "$out/danvan_${version}_amd64.deb" >/dev/null
echo "$out/$name.tar.gz"
echo "$out/danvan_${version}_amd64.deb"
