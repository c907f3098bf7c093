import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * What we do to HLS playlists besides letting ffmpeg write them: end them (ENDLIST) when the
 * stream really stops, remember where reconnects put discontinuities, and state the
 * EXT-X-DISCONTINUITY-SEQUENCE that ffmpeg 5.1 never writes (RFC 8216 §6.2.1: once a
 * discontinuity slides out of the live window the count must go up, or players re-time the
 * remaining segments wrongly). Pure text functions first, then the small file operations.
 */

export const ENDLIST = '#EXT-X-ENDLIST'
/** Where a stream's discontinuity starts are kept, beside its playlists (never served). */
export const DISCONTINUITY_FILE = 'discontinuities.json'

export const hasEndList = (text: string): boolean => /^#EXT-X-ENDLIST\s*$/m.test(text)

export function withEndList(text: string): string {
  if (hasEndList(text)) return text
  return `${text.replace(/\s*$/, '')}\n${ENDLIST}\n`
}

/** EXT-X-MEDIA-SEQUENCE (0 when absent, as the spec says). */
export function getMediaSequence(text: string): number {
  const m = /^#EXT-X-MEDIA-SEQUENCE:(\d+)\s*$/m.exec(text)
  return m ? Number(m[1]) : 0
}

export const countSegments = (text: string): number => text.match(/^#EXTINF:/gm)?.length ?? 0

/** Media sequence number the next segment will get. */
export const nextSequence = (text: string): number => getMediaSequence(text) + countSegments(text)

/**
 * Adds EXT-X-DISCONTINUITY-SEQUENCE: the number of discontinuities (each given as the sequence
 * number of the first segment after it) that are no longer in the window. Unchanged when none
 * have left, or when the playlist already states one.
 */
export function withDiscontinuitySequence(text: string, starts: readonly number[]): string {
  if (/^#EXT-X-DISCONTINUITY-SEQUENCE:/m.test(text)) return text
  const first = getMediaSequence(text)
  const gone = starts.filter((s) => s < first).length
  if (gone === 0) return text
  const line = `#EXT-X-DISCONTINUITY-SEQUENCE:${gone}`
  if (/^#EXT-X-MEDIA-SEQUENCE:/m.test(text)) return text.replace(/^(#EXT-X-MEDIA-SEQUENCE:\d+)\s*$/m, `$1\n${line}`)
  return text.replace(/^#EXTM3U\s*$/m, `#EXTM3U\n${line}`)
}

export type DiscontinuityMap = Record<string, number[]>

export function parseDiscontinuities(text: string): DiscontinuityMap {
  const out: DiscontinuityMap = {}
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return out // a torn or foreign file: no discontinuities known, the playlist is still valid
  }
  if (typeof data !== 'object' || data === null) return out
  for (const [name, value] of Object.entries(data)) {
    if (Array.isArray(value)) out[name] = value.filter((n): n is number => Number.isSafeInteger(n) && n >= 0)
  }
  return out
}

/** Atomic replace: readers see the old file or the new one, never half of one. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await writeFile(tmp, text)
  await rename(tmp, path)
}

const readText = (path: string): Promise<string | undefined> =>
  readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })

/** Appends ENDLIST to each variant playlist that exists and lacks it. Returns those it ended. */
export async function endPlaylists(dir: string, variants: readonly string[]): Promise<string[]> {
  const ended: string[] = []
  for (const name of variants) {
    const path = join(dir, `${name}.m3u8`)
    const text = await readText(path)
    if (text === undefined || hasEndList(text)) continue
    await writeFileAtomic(path, withEndList(text))
    ended.push(name)
  }
  return ended
}

/**
 * Before continuing playlists after a reconnect: note, per variant, the sequence number where
 * the discontinuity will be (the next segment), so the origin can keep the count right.
 */
export async function recordDiscontinuity(dir: string, variants: readonly string[]): Promise<void> {
  const path = join(dir, DISCONTINUITY_FILE)
  const map = parseDiscontinuities((await readText(path)) ?? '{}')
  for (const name of variants) {
    const text = await readText(join(dir, `${name}.m3u8`))
    if (text === undefined) continue
    const next = nextSequence(text)
    const list = (map[name] ??= [])
    if (!list.includes(next)) list.push(next)
  }
  await writeFileAtomic(path, JSON.stringify(map))
}

export async function readDiscontinuities(dir: string): Promise<DiscontinuityMap> {
  return parseDiscontinuities((await readText(join(dir, DISCONTINUITY_FILE))) ?? '{}')
}

/** The variant playlist names a master playlist lists, in order. */
export function getVariantUris(master: string): string[] {
  return master
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

/** Next sequence number of each variant playlist (undefined for one not written yet). */
export async function readSequences(dir: string, variants: readonly string[]): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {}
  for (const name of variants) {
    const text = await readText(join(dir, `${name}.m3u8`))
    out[name] = text === undefined ? undefined : nextSequence(text)
  }
  return out
}

/**
 * A player can start: the master playlist exists and every variant has a segment past
 * `baseline` (its next sequence number before this run: a reconnect is playable again only
 * once new media is listed).
 */
export async function isPlayable(dir: string, variants: readonly string[], baseline: Readonly<Record<string, number | undefined>> = {}): Promise<boolean> {
  if ((await readText(join(dir, 'master.m3u8'))) === undefined || variants.length === 0) return false
  const now = await readSequences(dir, variants)
  return variants.every((name) => (now[name] ?? 0) > (baseline[name] ?? 0))
}
