#!/usr/bin/env bash
# Installs aiosmtpd (a real SMTP server, for the e-mail tests) into
# .venv-smtp/ and prints the path of its Python.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${FD_AIOSMTPD_VERSION:-1.4.6}"
venv=.venv-smtp
if [ ! -x "$venv/bin/aiosmtpd" ]; then
    python3 -m venv "$venv"
    echo '*' > "$venv/.gitignore"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$version" >&2
fi
echo "$PWD/$venv/bin/aiosmtpd"
