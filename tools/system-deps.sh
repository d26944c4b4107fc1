#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing:
# libmariadb-dev (the mariadb driver compiles against Connector/C), chromium (browser
# tests) and the MariaDB server and client. Safe to run again.
set -euo pipefail

packages=(libmariadb-dev chromium mariadb-server mariadb-client python3-venv)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
