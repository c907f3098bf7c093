import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  countSegments,
  endPlaylists,
  getMediaSequence,
  hasEndList,
  isPlayable,
  nextSequence,
  parseDiscontinuities,
  readDiscontinuities,
  readSequences,
  recordDiscontinuity,
  withDiscontinuitySequence,
  withEndList,
} from './playlist.ts'

const playlist = (first: number, count: number, discontinuityAt: number[] = []): string => {
  let text = `#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:${first}\n#EXT-X-INDEPENDENT-SEGMENTS\n`
  for (let sn = first; sn < first + count; sn++) {
    if (discontinuityAt.includes(sn)) text += '#EXT-X-DISCONTINUITY\n'
    text += `#EXTINF:1.000000,\nv-${sn}.ts\n`
  }
  return text
}

describe('playlist text', () => {
  it('ENDLIST is appended once, at the end, and never twice', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(20), (first, count) => {
        const text = playlist(first, count)
        expect(hasEndList(text)).toBe(false)
        const ended = withEndList(text)
        expect(hasEndList(ended)).toBe(true)
        expect(ended.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true)
        expect(withEndList(ended)).toBe(ended)
        expect(countSegments(ended)).toBe(count)
      }),
      { numRuns: 1000 },
    )
  })

  it('the next sequence number follows the last segment', () => {
    expect(getMediaSequence(playlist(7, 3))).toBe(7)
    expect(nextSequence(playlist(7, 3))).toBe(10)
    expect(nextSequence('#EXTM3U\n')).toBe(0)
  })

  it('the discontinuity sequence counts exactly the discontinuities that slid out of the window', () => {
    fc.assert(
      fc.property(fc.nat(200), fc.integer({ min: 1, max: 20 }), fc.uniqueArray(fc.nat(250), { maxLength: 6 }), (first, count, starts) => {
        const text = playlist(first, count, starts)
        const out = withDiscontinuitySequence(text, starts)
        const gone = starts.filter((s) => s < first).length
        const m = /^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)$/m.exec(out)
        if (gone === 0) expect(out).toBe(text)
        else {
          expect(Number(m?.[1])).toBe(gone)
          // It sits right after the media sequence, and nothing else changed.
          expect(out.replace(/^#EXT-X-DISCONTINUITY-SEQUENCE:\d+\n/m, '')).toBe(text)
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('reads a torn or foreign discontinuity file as none', () => {
    expect(parseDiscontinuities('{"720p":[1,2')).toEqual({})
    expect(parseDiscontinuities('[1]')).toEqual({})
    expect(parseDiscontinuities('{"720p":[1,-2,"x",3.5,4]}')).toEqual({ '720p': [1, 4] })
  })
})

describe('playlist files', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaycast-playlist-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('records where a reconnect puts the discontinuity, per variant', async () => {
    await writeFile(join(dir, 'a.m3u8'), playlist(3, 4))
    await writeFile(join(dir, 'b.m3u8'), playlist(0, 2))
    await recordDiscontinuity(dir, ['a', 'b', 'missing'])
    expect(await readDiscontinuities(dir)).toEqual({ a: [7], b: [2] })
    await recordDiscontinuity(dir, ['a'])
    expect(await readDiscontinuities(dir)).toEqual({ a: [7], b: [2] })
  })

  it('is playable once the master exists and every variant has new segments past the baseline', async () => {
    expect(await isPlayable(dir, ['a', 'b'])).toBe(false) // no master yet
    await writeFile(join(dir, 'master.m3u8'), '#EXTM3U\n')
    expect(await isPlayable(dir, ['a', 'b'])).toBe(true)
    const baseline = await readSequences(dir, ['a', 'b'])
    expect(baseline).toEqual({ a: 7, b: 2 })
    expect(await isPlayable(dir, ['a', 'b'], baseline)).toBe(false)
    await writeFile(join(dir, 'a.m3u8'), playlist(3, 5))
    expect(await isPlayable(dir, ['a', 'b'], baseline)).toBe(false)
    await writeFile(join(dir, 'b.m3u8'), playlist(0, 3))
    expect(await isPlayable(dir, ['a', 'b'], baseline)).toBe(true)
    expect(await isPlayable(dir, ['a', 'missing'])).toBe(false)
  })

  it('ends every existing variant playlist once', async () => {
    expect(await endPlaylists(dir, ['a', 'b', 'missing'])).toEqual(['a', 'b'])
    expect(await endPlaylists(dir, ['a', 'b'])).toEqual([])
    const a = await readFile(join(dir, 'a.m3u8'), 'utf8')
    expect(a.match(/#EXT-X-ENDLIST/g)).toHaveLength(1)
    expect(countSegments(a)).toBe(5)
  })
})
