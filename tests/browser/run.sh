#!/usr/bin/env bash
# The browser tests: starts `graphhook dev` (api, worker, emulator) on ports of its own, in a
# database and Redis prefix of its own, mints an operator token, and runs every *.test.mjs here
# in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core). Screenshots of
# every page visited go to tests/browser/output/ (git-ignored).
#
#   tests/browser/run.sh                    every test (needs PostgreSQL and Redis)
#   tests/browser/run.sh portal.test.mjs    one file
#   BROWSER_PORT_BASE=18500 tests/browser/run.sh   other ports (default 18380: api, +1 worker,
#                                                   +10 emulator)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${root}/target}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "${chromium}" ]; then
  echo "Chromium is missing: apt-get install -y chromium (or set CHROMIUM)" >&2
  exit 1
fi
# `.ci/run` builds the binary once for all its steps and says so.
if [ -z "${GRAPHHOOK_BINARY_BUILT:-}" ]; then
  (cd "${root}" && cargo build --locked --bin graphhook)
fi
if [ ! -d "${here}/node_modules/playwright-core" ]; then
  (cd "${here}" && npm ci --no-audit --no-fund)
fi

db="graphhook_browser_$$" prefix="browser_$$" log="$(mktemp)"
base="${BROWSER_PORT_BASE:-18380}"
api="${base}" worker=$((base + 1)) emu=$((base + 10))
GRAPHHOOK__DATABASE__URL="postgres://postgres@127.0.0.1:5432/${db}" \
GRAPHHOOK__REDIS__KEY_PREFIX="${prefix}" \
GRAPHHOOK__API__LISTEN="127.0.0.1:${api}" \
GRAPHHOOK__API__PUBLIC_BASE_URL="http://127.0.0.1:${api}" \
GRAPHHOOK__WORKER__LISTEN="127.0.0.1:${worker}" \
GRAPHHOOK__EMULATOR__LISTEN="127.0.0.1:${emu}" \
GRAPHHOOK__EMULATOR__PERSIST=false \
GRAPHHOOK__WORKER__TICK_INTERVAL_SECS=1 \
  "${CARGO_TARGET_DIR}/debug/graphhook" dev >"${log}" 2>&1 &
pid=$!
cleanup() {
  kill -INT "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" postgres >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "${prefix}:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null 2>&1 || true
  rm -f "${log}"
}
trap cleanup EXIT
ready=0
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:${api}/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.5
done
if [ "${ready}" != 1 ]; then
  echo "graphhook dev did not become ready:" >&2; cat "${log}" >&2; exit 1
fi

export GRAPHHOOK_URL="http://127.0.0.1:${api}" EMULATOR_URL="http://127.0.0.1:${emu}"
OPERATOR_TOKEN="$("${CARGO_TARGET_DIR}/debug/graphhook" admin token --name browser-test --ttl 1h --development)"
export OPERATOR_TOKEN CHROMIUM="${chromium}" SCREENSHOTS="${here}/output"
rm -rf "${SCREENSHOTS}"
status=0
tests=("$@")
if [ "${#tests[@]}" = 0 ]; then tests=("${here}"/*.test.mjs); fi
(cd "${here}" && node --test --test-concurrency=1 "${tests[@]}") || status=$?
if [ "${status}" != 0 ]; then
  echo "--- graphhook dev's log ---" >&2; tail -n 200 "${log}" >&2
fi
exit "${status}"
