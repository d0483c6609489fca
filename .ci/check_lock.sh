#!/usr/bin/env bash
# Fails when deno.lock would change: every dependency deno.json names must be
# locked exactly as it is (a lock change is a reviewed commit, never a side
# effect of CI). `bash .ci/check_lock.sh [DIR]`, DIR defaulting to the
# repository root; run by .ci/run before anything else touches the lock.
set -euo pipefail

cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"
before=$(cksum <deno.lock)
if ! deno install --frozen --quiet >/dev/null; then
  echo "ci: deno.lock does not match deno.json: update it in a reviewed commit (deno install --frozen=false)" >&2
  exit 1
fi
if [[ $(cksum <deno.lock) != "$before" ]]; then
  echo "ci: deno install changed deno.lock" >&2
  exit 1
fi
echo "deno.lock matches deno.json"
