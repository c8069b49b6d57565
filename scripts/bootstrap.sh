#!/usr/bin/env bash
# Installs what zonegate needs on a fresh Debian / Raspberry Pi OS machine: the system packages
# the tests and demo talk to (real mosquitto, gpsd + gpsfake, systemd-analyze and systemd-creds,
# Chromium for the kiosk page), then .venv with the project. As root it runs apt-get itself; otherwise it stops
# with the exact command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}

need_pkgs=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || need_pkgs+=(mosquitto-clients)
command -v gpsd >/dev/null 2>&1 || [ -x /usr/sbin/gpsd ] || need_pkgs+=(gpsd)
command -v gpsfake >/dev/null 2>&1 || need_pkgs+=(gpsd-clients)
command -v systemd-analyze >/dev/null 2>&1 || need_pkgs+=(systemd)
# `provision --seal` and its tests seal with the real systemd-creds (systemd 250+, same package).
command -v systemd-creds >/dev/null 2>&1 || need_pkgs+=(systemd)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
"$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)
# The central ingest's tests start a private PostgreSQL from Debian's server binaries.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_pkgs+=(postgresql)
# The kiosk page: its tests open it in the system's headless Chromium through chromedriver;
# espeak-ng speaks the Mandarin prompts (voice cmn); a CJK font draws the Chinese.
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
command -v espeak-ng >/dev/null 2>&1 || need_pkgs+=(espeak-ng)
fc-list 2>/dev/null | grep -qiE 'wenquanyi|noto sans cjk' || need_pkgs+=(fonts-wqy-zenhei)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing system packages: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
  else
    echo "bootstrap: missing system packages: ${need_pkgs[*]}" >&2
    echo "bootstrap: run:  sudo apt-get update && sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

# On a Raspberry Pi, picamera2 comes from apt and is visible only with system site packages.
venv_flags=()
if [ -e /usr/lib/python3/dist-packages/picamera2 ]; then venv_flags+=(--system-site-packages); fi
[ -x .venv/bin/python ] || "$PY" -m venv "${venv_flags[@]}" .venv

pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip wheel "setuptools<81"
# dlib-bin ships prebuilt x86-64 and aarch64 wheels; face_recognition's own metadata asks for
# "dlib", which pip would compile for tens of minutes, so it goes in with --no-deps.
"${pip[@]}" install -e '.[face,dev,central]'
"${pip[@]}" install --no-deps 'face_recognition==1.3.0'
.venv/bin/python -c 'import face_recognition, dlib; print("bootstrap: dlib", dlib.__version__)'
echo "bootstrap: ready (.venv)"
