#!/usr/bin/env bash
# Installs zonegate as a service on Raspberry Pi OS bookworm (64-bit), from this checkout:
#   apt packages -> /opt/zonegate/.venv (system site packages, for picamera2) -> the zonegate
#   system user (sysusers.d) -> /etc/zonegate and /var/lib/zonegate (tmpfiles.d) -> the unit,
#   enabled. It starts the service only once /etc/zonegate/gateway.yaml exists; run
#   `zonegate provision` first on a blank Pi. Safe to run again (upgrades the venv in place).
#
#   sudo scripts/install-pi.sh
#
# Environment: ZONEGATE_PREFIX (default /opt/zonegate), ZONEGATE_KEEP_SERIAL_CONSOLE=1 to leave
# the UART login console alone (by default it is turned off so gas sensors can use the UART).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${ZONEGATE_PREFIX:-/opt/zonegate}
VENV="$PREFIX/.venv"
UNIT_DIR=/etc/systemd/system

say() { printf 'install-pi: %s\n' "$*"; }
die() { printf 'install-pi: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: sudo $0"

# shellcheck source=/dev/null
. /etc/os-release
if [ "${VERSION_CODENAME:-}" != bookworm ]; then
  say "warning: written for Debian/Raspberry Pi OS bookworm, this is ${PRETTY_NAME:-unknown}"
fi
if [ "$(uname -m)" != aarch64 ]; then
  say "warning: dlib-bin ships aarch64 and x86-64 wheels; $(uname -m) may compile dlib for hours"
fi

# ---- system packages
# python3-picamera2 without recommends: no desktop preview stack on a headless gateway.
pkgs=(
  python3 python3-venv python3-pip
  gpsd gpsd-clients
  mosquitto-clients
  systemd
  ca-certificates
  # the zone terminal: Mandarin prompts (espeak-ng voice cmn), ALSA's aplay, a Chinese font
  # (Pi OS Lite ships none), Chromium for the kiosk page (scripts/kiosk-autostart.sh)
  espeak-ng alsa-utils fonts-wqy-zenhei chromium
)
if apt-cache show python3-picamera2 >/dev/null 2>&1; then
  pkgs+=(python3-picamera2 python3-libcamera)
else
  say "python3-picamera2 not in the apt sources (not Raspberry Pi OS?): camera via OpenCV only"
fi
say "apt packages: ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${pkgs[@]}"

# Permits need a trusted clock: NTP (systemd-timesyncd on Raspberry Pi OS) must be on.
timedatectl set-ntp true || say "warning: could not enable NTP (timedatectl set-ntp true)"

# Gas sensors on the Pi's UART: hardware serial on, login console off (raspi-config's way).
if command -v raspi-config >/dev/null 2>&1 && [ "${ZONEGATE_KEEP_SERIAL_CONSOLE:-0}" != 1 ]; then
  raspi-config nonint do_serial_hw 0
  raspi-config nonint do_serial_cons 1
  say "UART enabled for sensors, serial console disabled (takes effect after a reboot)"
fi

# ---- the device groups the unit's SupplementaryGroups= names must exist, or it fails to start
for group in dialout video gpio; do
  getent group "$group" >/dev/null || groupadd --system "$group"
done

# ---- the virtual environment
# --system-site-packages: picamera2 and libcamera come from apt and are not on PyPI for the Pi.
mkdir -p "$PREFIX"
[ -x "$VENV/bin/python" ] || python3 -m venv --system-site-packages "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip wheel "setuptools<81"
# apt's picamera2 / simplejpeg are built against bookworm's numpy 1.x: numpy 2 in the venv
# would shadow it and break them ("numpy.dtype size changed").
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
if [ -e /usr/lib/python3/dist-packages/picamera2 ]; then echo 'numpy<2' >"$constraints"; fi
# dlib-bin is a prebuilt dlib wheel; face_recognition's metadata asks for "dlib", which pip
# would compile for hours on a Pi, so it goes in with --no-deps (as scripts/bootstrap.sh does).
"${pip[@]}" install -c "$constraints" "${SRC}[face]"
"${pip[@]}" install -c "$constraints" --no-deps 'face_recognition==1.3.0'
"$VENV/bin/python" -c 'import face_recognition, dlib; print("install-pi: dlib", dlib.__version__)'
ln -sf "$VENV/bin/zonegate" /usr/local/bin/zonegate

# ---- user, directories, unit
install -D -m 0644 "$SRC/systemd/zonegate.sysusers" /usr/lib/sysusers.d/zonegate.conf
install -D -m 0644 "$SRC/systemd/zonegate.tmpfiles" /usr/lib/tmpfiles.d/zonegate.conf
systemd-sysusers /usr/lib/sysusers.d/zonegate.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/zonegate.conf
install -D -m 0644 "$SRC/systemd/zonegate.service" "$UNIT_DIR/zonegate.service"
systemctl daemon-reload
systemctl enable gpsd.socket >/dev/null 2>&1 || say "warning: could not enable gpsd.socket"
systemctl enable zonegate.service

if [ -e /etc/zonegate/gateway.yaml ]; then
  zonegate check-config -c /etc/zonegate/gateway.yaml
  systemctl restart zonegate.service
  say "zonegate (re)started; follow it with: journalctl -u zonegate -f"
else
  say "installed and enabled. Next:"
  say "  sudo zonegate provision --seal     # config, device key, broker credentials (sealed)"
  say "  sudo zonegate selftest             # sensors, camera, GPS, broker, clock, disk"
  say "  sudo systemctl start zonegate"
fi
