#!/usr/bin/env bash
# Creates the peers' virtual environment (numpy and numba) for benches/compare.sh.
# Idempotent: an existing venv that already imports both is left as it is.
#
#   bash benches/peers/setup.sh [VENV]     (default: benches/peers/.venv, ignored by git)
#
# Optional: nothing in specsim's build or tests needs it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.venv}"
py="${PYTHON:-python3}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import numpy, numba' 2>/dev/null; then
    exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "setup.sh: creating $venv" >&2
    "$py" -m venv "$venv"
fi
echo "setup.sh: installing numpy and numba into $venv" >&2
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2 || true
"$venv/bin/python" -m pip install --quiet numpy numba >&2
"$venv/bin/python" -c 'import numpy, numba; print("setup.sh: numpy", numpy.__version__, "numba", numba.__version__)' >&2
