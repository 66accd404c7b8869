#!/usr/bin/env bash
# Installs aiosmtpd (a real SMTP server, for the e-mail tests) into
# .venv-smtp/ and prints the path of its Python.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pip-venv.sh
version="${FD_AIOSMTPD_VERSION:-1.4.6}"
venv=.venv-smtp
if [ ! -x "$venv/bin/aiosmtpd" ]; then
    pip_install "$venv" "aiosmtpd==$version"
fi
echo "$PWD/$venv/bin/aiosmtpd"
