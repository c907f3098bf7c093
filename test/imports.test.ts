import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'

// The dependency rule from STYLE.md, enforced: apps import protocol/ (dvm may also use ingest/),
// never each other; protocol/ is isomorphic; nothing imports test/; each heavy dependency has
// exactly one home.
const ROOT = resolve(import.meta.dirname, '..')
const PARTS = ['protocol', 'relay', 'ingest', 'dvm', 'client'] as const
type Part = (typeof PARTS)[number]

const MAY_IMPORT: Record<Part, Part[]> = {
  protocol: [],
  relay: ['protocol'],
  ingest: ['protocol'],
  dvm: ['protocol', 'ingest'],
  client: ['protocol'],
}
const PACKAGE_HOME: Record<string, Part> = {
  lmdb: 'relay',
  'node-media-server': 'ingest',
  'hls.js': 'client',
}
const PROTOCOL_PACKAGES = [/^nostr-tools(\/|$)/, /^@noble\//, /^nostr-wasm$/]

function sourceFiles(dir: string): string[] {
  let out: string[] = []
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out = out.concat(sourceFiles(path))
    else if (/\.(ts|tsx|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

function importsOf(text: string): string[] {
  const specs: string[] = []
  const re = /(?:^|[^.\w])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[^.\w])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm
  for (const m of text.matchAll(re)) specs.push(m[1] ?? m[2] ?? m[3])
  return specs
}

const partOf = (file: string): string => relative(ROOT, file).split(sep)[0]

const files = PARTS.flatMap((p) => {
  try {
    return sourceFiles(join(ROOT, p))
  } catch {
    return [] // a part that has not been written yet has nothing to check
  }
})

describe('import rule', () => {
  it('finds the source files it checks', () => {
    expect(files.some((f) => partOf(f) === 'protocol')).toBe(true)
  })

  it('apps import only the parts below them, and nothing imports test/', () => {
    const bad: string[] = []
    for (const file of files) {
      const from = partOf(file) as Part
      const isTestFile = /\.test\.tsx?$/.test(file)
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue
        const to = partOf(resolve(file, '..', spec))
        if (to === from) continue
        if (to === 'test' && isTestFile) continue // tests may use shared fixtures
        if (!(MAY_IMPORT[from] as string[]).includes(to)) bad.push(`${relative(ROOT, file)} imports ${spec}`)
      }
    }
    expect(bad).toEqual([])
  })

  it('protocol/ uses no Node built-ins and only nostr-tools / @noble packages', () => {
    const bad: string[] = []
    for (const file of files.filter((f) => partOf(f) === 'protocol' && !/\.test\.ts$/.test(f))) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) continue
        if (!PROTOCOL_PACKAGES.some((re) => re.test(spec))) bad.push(`${relative(ROOT, file)} imports ${spec}`)
      }
      if (/\bprocess\.env\b|\bBuffer\./.test(readFileSync(file, 'utf8'))) bad.push(`${relative(ROOT, file)} uses Node globals`)
    }
    expect(bad).toEqual([])
  })

  it('lmdb, node-media-server and hls.js each have one home; only dvm spawns processes', () => {
    const bad: string[] = []
    for (const file of files) {
      const from = partOf(file)
      const isTestFile = /\.test\.tsx?$/.test(file)
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const home = PACKAGE_HOME[spec]
        if (home && home !== from) bad.push(`${relative(ROOT, file)} imports ${spec}`)
        if (/^(node:)?child_process$/.test(spec) && from !== 'dvm' && !isTestFile) bad.push(`${relative(ROOT, file)} spawns processes`)
      }
    }
    expect(bad).toEqual([])
  })

  it('only a main.ts reads process.env', () => {
    const bad = files
      .filter((f) => !/\.test\.tsx?$/.test(f) && !f.endsWith(`${sep}main.ts`))
      .filter((f) => /\bprocess\.env\b/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f))
    expect(bad).toEqual([])
  })
})
