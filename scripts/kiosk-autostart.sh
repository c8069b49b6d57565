#!/usr/bin/env bash
# Opens the zone terminal page full screen at every login of the Pi's desktop user: installs a
# launcher (/usr/local/bin/zonegate-kiosk) that waits for the daemon's page and then runs
# Chromium in kiosk mode, and registers it with the compositor Raspberry Pi OS bookworm uses:
# labwc (images since late 2024: ~/.config/labwc/autostart) or Wayfire (~/.config/wayfire.ini).
#
#   sudo scripts/kiosk-autostart.sh [USER] [URL]     # default: the user of uid 1000, port 8780
#
# Set `kiosk.enabled: true` in gateway.yaml. Not yet tried on Pi hardware: if the screen stays
# black, run `zonegate-kiosk` from a terminal on the desktop and read what Chromium says.
set -euo pipefail
user=${1:-$(id -nu 1000)}
url=${2:-http://127.0.0.1:8780/}
home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || { echo "kiosk-autostart: no user $user" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "kiosk-autostart: install chromium first (apt install chromium)" >&2; exit 1; }

cat >/usr/local/bin/zonegate-kiosk <<LAUNCH
#!/bin/sh
# Wait for the daemon's page (it starts at boot, maybe after the desktop), then show it.
# The page itself reconnects when the daemon restarts; this loop restarts a crashed browser.
url=\${1:-$url}
while true; do
  until curl -fsS -o /dev/null "\$url"; do sleep 2; done
  $browser --kiosk --app="\$url" --noerrdialogs --disable-infobars --incognito \\
    --disable-session-crashed-bubble --check-for-update-interval=31536000 \\
    --overscroll-history-navigation=0 --disable-pinch --ozone-platform-hint=auto
  sleep 2
done
LAUNCH
chmod 755 /usr/local/bin/zonegate-kiosk

line="/usr/local/bin/zonegate-kiosk &"
labwc="$home/.config/labwc/autostart"
install -d -o "$user" -g "$user" "$home/.config/labwc"
grep -qxF "$line" "$labwc" 2>/dev/null || echo "$line" >>"$labwc"
chown "$user:" "$labwc"
wayfire="$home/.config/wayfire.ini"
if [ -f "$wayfire" ] && ! grep -q zonegate-kiosk "$wayfire"; then
  if grep -q '^\[autostart\]' "$wayfire"; then
    sed -i '/^\[autostart\]/a zonegate_kiosk = /usr/local/bin/zonegate-kiosk' "$wayfire"
  else
    printf '\n[autostart]\nzonegate_kiosk = /usr/local/bin/zonegate-kiosk\n' >>"$wayfire"
  fi
fi
echo "kiosk-autostart: $user opens $url at login (labwc autostart; wayfire.ini if present)"
echo "kiosk-autostart: also: sudo raspi-config nonint do_boot_behaviour B4  (desktop autologin)"
