#!/usr/bin/env node
// Builds the optional native signature verifier (native.c) into build/relaycast_verify.node with
// the system C compiler: no node-gyp.
//
// Preferred: libsecp256k1's own sources compiled into the addon, which lets it verify a chunk of
// signatures in one sum (batch.h). They come from Debian's archive (the source tarball of the
// libsecp256k1 that Debian 12 ships, checked against a pinned sha256) and are kept in
// relay/verify/build/, so only the first build downloads. Without them (offline, no C compiler
// that is not C++), it links the system libsecp256k1 and checks signatures one by one. When
// neither works it says so and exits 0, because the relay then falls back to WASM.
// Usage: node scripts/build-native.js
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = join(dirname(fileURLToPath(import.meta.url)), '..', 'relay', 'verify')
const SOURCE = join(HERE, 'native.c')
const OUT_DIR = join(HERE, 'build')
const OUT = join(OUT_DIR, 'relaycast_verify.node')
const COMPILERS = ['cc', 'gcc', 'clang', 'g++', 'clang++']
// libsecp256k1 0.2.0 as Debian 12 packages it (the same version as libsecp256k1-dev there).
const SECP = {
  name: 'libsecp256k1-0.2.0',
  url: 'https://deb.debian.org/debian/pool/main/libs/libsecp256k1/libsecp256k1_0.2.0.orig.tar.xz',
  sha256: '07c1d76fc485936138c6572e94374df22ba41df06617926572b8a690fe8bc34b',
}
const SECP_DIR = join(OUT_DIR, SECP.name)
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

/** The unpacked sources in SECP_DIR, downloading them first if needed; a reason string if not. */
async function secpSources() {
  if (existsSync(join(SECP_DIR, 'src', 'secp256k1.c'))) return undefined
  let bytes
  try {
    const res = await fetch(SECP.url, { signal: AbortSignal.timeout(60_000) })
    if (!res.ok) return `${SECP.url} answered ${res.status}`
    bytes = Buffer.from(await res.arrayBuffer())
  } catch (err) {
    return `could not download ${SECP.url} (${err.cause?.code ?? err.message})`
  }
  const sum = createHash('sha256').update(bytes).digest('hex')
  if (sum !== SECP.sha256) return `${SECP.url} has sha256 ${sum}, expected ${SECP.sha256}`
  mkdirSync(OUT_DIR, { recursive: true })
  const unpack = mkdtempSync(join(OUT_DIR, 'unpack-'))
  try {
    const tarball = join(unpack, 'src.tar.xz')
    writeFileSync(tarball, bytes)
    const tar = run('tar', ['-xJf', tarball, '-C', unpack])
    if (tar.status !== 0) return `could not unpack ${SECP.name} (tar: ${(tar.stderr || tar.error?.message || '').trim()}; Debian: apt-get install xz-utils)`
    rmSync(SECP_DIR, { recursive: true, force: true })
    renameSync(join(unpack, SECP.name), SECP_DIR)
  } finally {
    rmSync(unpack, { recursive: true, force: true })
  }
  return undefined
}

/** Compiler arguments for the addon with libsecp256k1 compiled in (the configure defaults). */
function bundledArgs() {
  const src = join(SECP_DIR, 'src')
  const defines = ['RELAYCAST_BUNDLED_SECP256K1', 'ENABLE_MODULE_EXTRAKEYS', 'ENABLE_MODULE_SCHNORRSIG', 'ECMULT_WINDOW_SIZE=15', 'ECMULT_GEN_PREC_BITS=4']
  if (process.arch === 'x64') defines.push('USE_ASM_X86_64')
  return [
    '-O3', '-Wall', '-Wextra', '-Wno-unused-function', '-shared', '-fPIC', '-fvisibility=hidden',
    ...defines.map((d) => `-D${d}`), '-I', nodeInclude, '-I', src, '-I', SECP_DIR,
    SOURCE, join(src, 'precomputed_ecmult.c'), join(src, 'precomputed_ecmult_gen.c'), '-o', OUT,
  ]
}

/** Compiler arguments for the addon on the system library, or a reason it is not there. */
function systemArgs() {
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
  if (!hasLibrary) return 'libsecp256k1 >= 0.2.0 with the schnorrsig module was not found (Debian: apt-get install libsecp256k1-dev)'
  return ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', '-fvisibility=hidden', '-I', nodeInclude, SOURCE, '-o', OUT, '-lsecp256k1']
}

// libsecp256k1's sources are C only; a C++ driver can still build against the system library.
const isC = !compiler.endsWith('++')
const whyNotBundled = isC ? await secpSources() : `${compiler} is a C++ compiler`
let args
let mode
if (whyNotBundled === undefined) {
  args = bundledArgs()
  mode = `${SECP.name} compiled in, with batch verification`
} else {
  log(`${whyNotBundled}; using the system libsecp256k1 instead (no batch verification)`)
  args = systemArgs()
  if (typeof args === 'string') skip(args)
  mode = 'the system libsecp256k1'
}
mkdirSync(OUT_DIR, { recursive: true })
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
  const good = Buffer.concat([h(v.sig), h(v.msg), h(v.pub)])
  const spoilt = Buffer.concat([bad, h(v.msg), h(v.pub)])
  const small = m.verifyBatch(Buffer.concat([good, spoilt]))
  // Big enough for one sum: all good passes it; one bad must fail it and be found alone.
  const allGood = m.verifyBatch(Buffer.concat(Array(8).fill(good)))
  const oneBad = m.verifyBatch(Buffer.concat([...Array(7).fill(good), spoilt]))
  if (m.verify(h(v.sig), h(v.msg), h(v.pub)) !== true || m.verify(bad, h(v.msg), h(v.pub)) !== false ||
      small.join() !== '1,0' || allGood.join() !== '1,1,1,1,1,1,1,1' || oneBad.join() !== '1,1,1,1,1,1,1,0' ||
      m.batched !== ${whyNotBundled === undefined}) process.exit(3)
`
const check = run(process.execPath, ['-e', smoke])
if (check.status !== 0) {
  rmSync(OUT, { force: true })
  console.error(`build-native: the built addon failed its smoke test (status ${check.status}) and was removed:\n${check.stderr}`)
  process.exit(1)
}
log(`built ${OUT} with ${compiler} (${mode})`)
