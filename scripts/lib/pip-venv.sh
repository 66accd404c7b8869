# shellcheck shell=bash
# Sourced by the install scripts: pip_install VENV REQUIREMENT creates the
# git-ignored virtual environment VENV and installs REQUIREMENT into it
# (pip's chatter goes to stderr: the scripts print only their tool's path).
pip_install() {
    python3 -m venv "$1"
    echo '*' > "$1/.gitignore"
    "$1/bin/pip" install --quiet --disable-pip-version-check "$2" >&2
}
