#!/usr/bin/env bash
# Installs everything Relaycast needs on a fresh Debian machine with Node 20 and npm 11:
# system packages (ffmpeg for the transcoder, chromium for browser tests, a C compiler, xz and
# libsecp256k1 for the native signature verifier), the npm packages from the lockfile, and the
# native verifier itself, which compiles libsecp256k1's Debian source tarball in (downloaded
# once from Debian's archive, sha256-pinned) or else links the system library.
# Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/include/secp256k1_schnorrsig.h ] || need+=(libsecp256k1-dev)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "setup: installing ${need[*]} from Debian" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm 11 runs no install scripts unless allowed; none are needed: lmdb, esbuild and deno ship
# prebuilt binaries as optional packages, bufferutil inside its own (its install script only
# rebuilds when none fits), and our own native verifier is built just below.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
node scripts/build-native.js
