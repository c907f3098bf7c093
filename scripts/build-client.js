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
 * @param {{ outDir?: string, minify?: boolean }} [opts]
 * @returns {Promise<{ files: { path: string, bytes: number, bytesGz: number }[], shellBytesGz: number, playerBytesGz: number }>}
 */
export async function buildClient(opts = {}) {
  const outDir = resolve(opts.outDir ?? join(ROOT, 'dist', 'client'))
  const minify = opts.minify ?? true
  await rm(outDir, { recursive: true, force: true })
  await mkdir(join(outDir, 'assets'), { recursive: true })
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: join(CLIENT, 'main.tsx'), styles: join(CLIENT, 'styles.css') },
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
    plugins: [dedupeNoble],
  })

  const outputs = result.metafile.outputs
  const abs = (p) => resolve(ROOT, p)
  const entryJs = Object.keys(outputs).find((p) => outputs[p].entryPoint?.endsWith('main.tsx'))
  const entryCss = Object.keys(outputs).find((p) => p.endsWith('.css') && outputs[p].entryPoint?.endsWith('styles.css'))
  if (!entryJs || !entryCss) throw new Error('build-client: esbuild produced no main entry')

  // The shell is the entry plus everything it imports statically (loaded before first paint).
  const shell = new Set()
  const visit = (p) => {
    if (shell.has(p)) return
    shell.add(p)
    for (const imp of outputs[p].imports) if (imp.kind === 'import-statement' && outputs[imp.path]) visit(imp.path)
  }
  visit(entryJs)
  // The player: what the watch page adds to the shell before the first frame (its chunk, the
  // player, the hls.js light chunk), plus their static imports not already in the shell. Chat
  // loads beside it as its own chunk and is not counted here.
  const lazyRoots = Object.keys(outputs).filter(
    (p) => p.endsWith('.js') && Object.keys(outputs[p].inputs).some((i) => /node_modules\/hls\.js\/|client\/components\/(watch|player)\.tsx$/.test(i)),
  )
  const player = new Set()
  const visitPlayer = (p) => {
    if (player.has(p) || shell.has(p)) return
    player.add(p)
    for (const imp of outputs[p].imports) if (imp.kind === 'import-statement' && outputs[imp.path]) visitPlayer(imp.path)
  }
  for (const p of lazyRoots) visitPlayer(p)

  const url = (p) => `/assets/${basename(p)}`
  const template = await readFile(join(CLIENT, 'index.html'), 'utf8')
  const preloads = [...shell].filter((p) => p !== entryJs).map((p) => `<link rel="modulepreload" href="${url(p)}">`)
  const head = [`<link rel="stylesheet" href="${url(entryCss)}">`, ...preloads, `<script type="module" src="${url(entryJs)}"></script>`].join('\n    ')
  if (!template.includes('<!-- assets -->')) throw new Error('build-client: client/index.html lacks the <!-- assets --> marker')
  await writeFile(join(outDir, 'index.html'), template.replace('<!-- assets -->', head))

  const files = []
  for (const p of Object.keys(outputs)) {
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
      console.log(`player (watch page chunks incl. hls.js light): ${kb(r.playerBytesGz)} gz (shell + player ${kb(r.shellBytesGz + r.playerBytesGz)}, target ≤ 150 kB)`)
      console.log(`built in ${Math.round(performance.now() - started)} ms → ${outDir ?? 'dist/client'}`)
    },
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
