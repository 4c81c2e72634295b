# Sourced by scripts/serve and scripts/test: create .venv and install the project
# (with the extras named in $EXTRAS) when pyproject.toml changed since the last install.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> Creating the virtual environment in .venv"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${EXTRAS:-base}"
if [ ! -f "$stamp" ]; then
  echo "==> Installing the platform${EXTRAS:+ with [$EXTRAS]} into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # Compat mode puts the checkout on sys.path, so packages added later need no reinstall.
  if [ -n "${EXTRAS:-}" ]; then
    .venv/bin/python -m pip install --quiet -e ".[$EXTRAS]" --config-settings editable_mode=compat
  else
    .venv/bin/python -m pip install --quiet -e . --config-settings editable_mode=compat
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
