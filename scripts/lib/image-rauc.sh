# shellcheck shell=bash
# Sourced by scripts/build-image: RAUC in the root filesystem (docs/design/update.md).
# install_rauc ROOTFS: Debian's `rauc` (built with its D-Bus service), `dbus-daemon` for the
# system bus it needs, the bus policy of the rauc name (package rauc-service) and the keyring
# /etc/rauc/keyring.pem: the CA certificate of RAUC_KEYRING=path, else the development CA made
# on demand in .cache/rauc-keys (scripts/lib/rauc-keys.sh). The board's overlay brings
# /etc/rauc/system.conf, the bus configuration and the service wrappers; the libraries are
# found by copy_elf_deps (its NEEDED check) from PKGS. Uses EXTRACT, BOARD_DIR, ROOT.
source "$ROOT/scripts/lib/rauc-keys.sh"
install_rauc() {
  local dir=$1
  [ -f "$BOARD_DIR/overlay/etc/rauc/system.conf" ] ||
    { echo "$BOARD_DIR/overlay/etc/rauc/system.conf missing (RAUC's slots of the board)" >&2; exit 1; }
  install -m 0755 "$EXTRACT/rauc/usr/bin/rauc" "$dir/usr/bin/rauc"
  install -m 0755 "$EXTRACT/dbus-daemon/usr/bin/dbus-daemon" "$dir/usr/bin/dbus-daemon"
  install -D -m 0644 "$EXTRACT/rauc-service/usr/share/dbus-1/system.d/de.pengutronix.rauc.conf" \
    "$dir/usr/share/dbus-1/system.d/de.pengutronix.rauc.conf"
  local keyring=${RAUC_KEYRING:-}
  if [ -z "$keyring" ]; then
    rauc_dev_keys "$ROOT/.cache/rauc-keys" dev
    keyring=$ROOT/.cache/rauc-keys/dev-ca.cert.pem
    echo "== RAUC keyring: the development CA ($keyring)" >&2
  else
    echo "== RAUC keyring: $keyring (RAUC_KEYRING)" >&2
  fi
  openssl x509 -in "$keyring" -noout 2>/dev/null ||
    { echo "RAUC keyring $keyring is not a PEM certificate" >&2; exit 1; }
  install -D -m 0644 "$keyring" "$dir/etc/rauc/keyring.pem"
}
