#!/usr/bin/env node
// Builds the web client (client/) into a static directory the relay serves with `--static`:
// ESM with code splitting, minified, content-hashed asset names (served as immutable), and an
// index.html that references them. Usage: node scripts/build-client.js [outDir]
import { build } from 'esbuild'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { gzipSync } from 'node:zlib'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CLIENT = join(ROOT, 'client')

/**
 * nostr-tools pins its own copy of @noble/hashes and @noble/curves (same major as ours): without
 * this, the shell would carry two copies of the hash utilities.
 */
const dedupeNoble = {
  name: 'dedupe-noble',
  setup(b) {
    b.onResolve({ filter: /^@noble\/(hashes|curves)\// }, (args) => {
      if (!args.importer.includes(`${join('node_modules', 'nostr-tools')}`)) return undefined
      return b.resolve(args.path, { kind: args.kind, resolveDir: ROOT })
    })
  },
}

/**
 * Signing code is bundled by a pass of its own: local keys (secp256k1, loaded on first use of a
 * browser key) and the NIP-46 bunker (with nostr-tools' nip46). The app's lazy imports of these two
 * modules point at that pass's files. In one pass, esbuild would put each file the shell shares with
 * them (protocol/event.ts, @noble/hashes, @scure/base) in a shared chunk holding the signing half
 * too, sha256 included: every visitor then loaded ≈1.6 kB gz of it, in five extra files. The price
 * of two passes is a few small helpers loaded twice, by people who sign only.
 */
const SIGNING_ENTRIES = { keys: join(ROOT, 'protocol', 'keys.ts'), bunker: join(CLIENT, 'state', 'bunker.ts') }

/** Resolves the app's dynamic imports of a signing entry to its file from the signing pass. */
const linkSigning = (urlOf) => ({
  name: 'link-signing',
  setup(b) {
    b.onResolve({ filter: /(^|\/)(keys|bunker)\.ts$/ }, async (args) => {
      if (args.kind !== 'dynamic-import' || args.pluginData === 'link-signing') return undefined
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'link-signing' })
      const url = urlOf.get(r.path)
      return url ? { path: url, external: true } : undefined
    })
  },
})

/** The lazily loaded module that is the watch page's code, and the player's way in to hls.js. */
const WATCH_ENTRY = join(CLIENT, 'components', 'watch-chunk.ts')
const HLS_ENTRY = join(CLIENT, 'components', 'hls-light.ts')

/**
 * @param {{ outDir?: string, minify?: boolean }} [opts]
 * @returns {Promise<{ files: { path: string, bytes: number, bytesGz: number }[], shellBytesGz: number, playerBytesGz: number }>}
 */
export async function buildClient(opts = {}) {
  const outDir = resolve(opts.outDir ?? join(ROOT, 'dist', 'client'))
  const minify = opts.minify ?? true
  await rm(outDir, { recursive: true, force: true })
  await mkdir(join(outDir, 'assets'), { recursive: true })
  /** @type {import('esbuild').BuildOptions} */
  const common = {
    absWorkingDir: ROOT,
    bundle: true,
    format: 'esm',
    splitting: true,
    minify,
    target: ['es2022', 'chrome100', 'safari15', 'firefox100'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    publicPath: '/assets',
    metafile: true,
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  }
  const signing = await build({ ...common, entryPoints: SIGNING_ENTRIES, plugins: [dedupeNoble] })
  const urlOf = new Map()
  for (const [p, o] of Object.entries(signing.metafile.outputs)) if (o.entryPoint) urlOf.set(resolve(ROOT, o.entryPoint), `/assets/${basename(p)}`)
  if (!Object.values(SIGNING_ENTRIES).every((f) => urlOf.has(f))) throw new Error('build-client: the signing pass lost an entry point')
  const result = await build({
    ...common,
    entryPoints: { main: join(CLIENT, 'main.tsx'), styles: join(CLIENT, 'styles.css') },
    plugins: [linkSigning(urlOf), dedupeNoble],
  })

  const outputs = result.metafile.outputs
  const abs = (p) => resolve(ROOT, p)
  const entryJs = Object.keys(outputs).find((p) => outputs[p].entryPoint?.endsWith('main.tsx'))
  const entryCss = Object.keys(outputs).find((p) => p.endsWith('.css') && outputs[p].entryPoint?.endsWith('styles.css'))
  if (!entryJs || !entryCss) throw new Error('build-client: esbuild produced no main entry')

  /** A file plus everything it imports statically (what the browser fetches before running it). */
  const closure = (roots, skip = new Set()) => {
    const seen = new Set()
    const visit = (p) => {
      if (seen.has(p) || skip.has(p)) return
      seen.add(p)
      for (const imp of outputs[p].imports) if (imp.kind === 'import-statement' && outputs[imp.path]) visit(imp.path)
    }
    roots.forEach(visit)
    return seen
  }
  const entryOf = (file) => {
    const p = Object.keys(outputs).find((o) => outputs[o].entryPoint && abs(outputs[o].entryPoint) === file)
    if (!p) throw new Error(`build-client: no output for ${relative(ROOT, file)}`)
    return p
  }
  // The shell: loaded before first paint. The player figure: all the watch page adds before its
  // first frame, i.e. its chunk (page, player, chat) and the hls.js chunk the player then imports.
  const shell = closure([entryJs])
  const player = closure([entryOf(WATCH_ENTRY), entryOf(HLS_ENTRY)], shell)

  const url = (p) => `/assets/${basename(p)}`
  const template = await readFile(join(CLIENT, 'index.html'), 'utf8')
  const preloads = [...shell].filter((p) => p !== entryJs).map((p) => `<link rel="modulepreload" href="${url(p)}">`)
  const head = [`<link rel="stylesheet" href="${url(entryCss)}">`, ...preloads, `<script type="module" src="${url(entryJs)}"></script>`].join('\n    ')
  if (!template.includes('<!-- assets -->')) throw new Error('build-client: client/index.html lacks the <!-- assets --> marker')
  await writeFile(join(outDir, 'index.html'), template.replace('<!-- assets -->', head))

  const files = []
  for (const p of [...Object.keys(signing.metafile.outputs), ...Object.keys(outputs)]) {
    const bytes = await readFile(abs(p))
    files.push({ path: relative(outDir, abs(p)), bytes: bytes.length, bytesGz: gzipSync(bytes, { level: 9 }).length })
  }
  const gz = (set) => files.filter((f) => set.has(relative(ROOT, join(outDir, f.path)))).reduce((n, f) => n + f.bytesGz, 0)
  const shellKeys = new Set([...shell].map((p) => relative(ROOT, abs(p))))
  const playerKeys = new Set([...player].map((p) => relative(ROOT, abs(p))))
  return { files, shellBytesGz: gz(shellKeys), playerBytesGz: gz(playerKeys) }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = process.argv[2]
  const started = performance.now()
  buildClient(outDir ? { outDir } : {}).then(
    (r) => {
      const kb = (n) => `${(n / 1024).toFixed(1)} kB`
      for (const f of r.files.sort((a, b) => b.bytesGz - a.bytesGz)) console.log(`  ${f.path.padEnd(40)} ${kb(f.bytes).padStart(10)} ${kb(f.bytesGz).padStart(9)} gz`)
      console.log(`shell (initial JS): ${kb(r.shellBytesGz)} gz (target ≤ 30 kB)`)
      console.log(`player (all JS a watch page adds: its chunk with player and chat, hls.js light): ${kb(r.playerBytesGz)} gz (shell + player ${kb(r.shellBytesGz + r.playerBytesGz)}, target ≤ 150 kB)`)
      console.log(`built in ${Math.round(performance.now() - started)} ms → ${outDir ?? 'dist/client'}`)
    },
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
