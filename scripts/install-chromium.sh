#!/usr/bin/env bash
# Installs Debian's chromium and its WebDriver (for the console's browser
# tests) and prints the path of `chromedriver`.
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >&2
fi
if ! command -v chromedriver >/dev/null; then
    echo "install-chromium.sh: apt-get could not install chromium-driver" >&2
    exit 1
fi
command -v chromedriver
