#!/usr/bin/env bash
# The project's test command (README: `npm test`). On a fresh Debian machine with Node 20 it
# installs what the checks need (Debian's Jupyter client, nbconvert, nbclient, the kernel
# test suite, NumPy), installs npm dependencies when missing, builds, and runs every suite:
# vitest specs (which also drive Jupyter's own Python clients against the kernel) and the
# Python conformance run.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(jupyter-client jupyter-nbconvert python3-jupyter-client python3-jupyter-kernel-test
      python3-nbclient python3-nbconvert python3-numpy
      # notebook checks: the notebook server, headless Chromium, Fashion-MNIST for 05-fashion-cnn
      jupyter-notebook python3-tornado chromium dataset-fashion-mnist)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -d node_modules/typescript ] || npm ci --no-audit --no-fund
npm run --silent build
# The build leaves out tests and benchmarks; type-check them too.
npm run --silent typecheck

# The Debian interpreter the packages above were installed for, whatever python3 is first on PATH.
export TENSORBOOK_PYTHON=/usr/bin/python3
export JUPYTER_DATA_DIR="${JUPYTER_DATA_DIR:-$(mktemp -d)}"

npx vitest run "$@"

# The tensor suite once more on the plain TypeScript reference backend, the oracle: every
# NumPy and finite-difference check holds both backends to one standard.
if [ $# -eq 0 ]; then
  TENSORBOOK_TEST_BACKEND=reference npx vitest run test/tensor
fi
