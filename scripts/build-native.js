#!/usr/bin/env node
// Builds the optional native signature verifier (native.c) into build/relaycast_verify.node with
// the system C compiler and libsecp256k1: no node-gyp, no network. When the compiler or the
// library is missing it says so and exits 0, because the relay then falls back to WASM.
// Usage: node scripts/build-native.js
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = join(dirname(fileURLToPath(import.meta.url)), '..', 'relay', 'verify')
const SOURCE = join(HERE, 'native.c')
const OUT_DIR = join(HERE, 'build')
const OUT = join(OUT_DIR, 'relaycast_verify.node')
const COMPILERS = ['cc', 'gcc', 'clang', 'g++', 'clang++']
// BIP-340 test vector 0 (secret key 3, zero message, zero aux): a known-good signature.
const VECTOR = {
  pub: 'f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9',
  msg: '0'.repeat(64),
  sig: 'e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca821525f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0',
}

const log = (message) => console.log(`build-native: ${message}`)

function skip(why) {
  log(`${why}; skipping the native verifier (the relay will use nostr-wasm instead).`)
  process.exit(0)
}

const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' })

const compiler = COMPILERS.find((cc) => run(cc, ['--version']).status === 0)
if (!compiler) skip('no C compiler found (tried ' + COMPILERS.join(', ') + ')')

// Node's own headers first (a tarball install ships them), then the distribution's.
const nodeInclude = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find(
  (dir) => existsSync(join(dir, 'node_api.h')),
)
if (!nodeInclude) skip("Node's N-API headers (node_api.h) were not found")

// Probe the library separately, so that a missing libsecp256k1 is a skip but a broken native.c fails.
const probeDir = mkdtempSync(join(tmpdir(), 'relaycast-probe-'))
let hasLibrary = false
try {
  const probe = join(probeDir, 'probe.c')
  const uses = 'secp256k1_schnorrsig_verify == 0 || secp256k1_context_static == 0' // both need >= 0.2.0
  writeFileSync(probe, `#include <secp256k1_schnorrsig.h>\nint main(void) { return ${uses}; }\n`)
  hasLibrary = run(compiler, [probe, '-o', join(probeDir, 'probe'), '-lsecp256k1']).status === 0
} finally {
  rmSync(probeDir, { recursive: true, force: true })
}
if (!hasLibrary) skip('libsecp256k1 >= 0.2.0 with the schnorrsig module was not found (Debian: apt-get install libsecp256k1-dev)')

mkdirSync(OUT_DIR, { recursive: true })
const args = ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', '-fvisibility=hidden', '-I', nodeInclude, SOURCE, '-o', OUT, '-lsecp256k1']
// Linux resolves N-API symbols from the node binary at load time; macOS must be told to.
if (process.platform === 'darwin') args.unshift('-undefined', 'dynamic_lookup')
const built = run(compiler, args)
if (built.status !== 0) {
  console.error(`build-native: ${compiler} failed to compile native.c:\n${built.stderr}`)
  process.exit(1)
}
if (built.stderr.trim()) console.error(built.stderr.trim())

// Load it in a separate process: libsecp256k1's self-test aborts on a broken build, and a bad
// binary must be removed here rather than found by the relay.
const smoke = `
  const m = require(${JSON.stringify(OUT)})
  const h = (x) => Buffer.from(x, 'hex')
  const v = ${JSON.stringify(VECTOR)}
  const bad = h(v.sig); bad[63] ^= 1
  const batch = m.verifyBatch(Buffer.concat([h(v.sig), h(v.msg), h(v.pub), bad, h(v.msg), h(v.pub)]))
  if (m.verify(h(v.sig), h(v.msg), h(v.pub)) !== true || m.verify(bad, h(v.msg), h(v.pub)) !== false ||
      batch.length !== 2 || batch[0] !== 1 || batch[1] !== 0) process.exit(3)
`
const check = run(process.execPath, ['-e', smoke])
if (check.status !== 0) {
  rmSync(OUT, { force: true })
  console.error(`build-native: the built addon failed its smoke test (status ${check.status}) and was removed:\n${check.stderr}`)
  process.exit(1)
}
log(`built ${OUT} with ${compiler}`)
