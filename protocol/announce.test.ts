import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildDvmAnnouncement, getDvmAnnouncement } from './announce.ts'
import type { DvmAnnouncement } from './announce.ts'
import { RENDITIONS } from './job.ts'
import { KIND_HANDLER_INFO, KIND_TEXT_NOTE } from './kinds.ts'
import { INGEST_URL, dvmAnnouncement } from '../test/fixtures/events.ts'

const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }))

const arbAnnouncement: fc.Arbitrary<DvmAnnouncement> = fc.record({
  d: text,
  name: text,
  about: text,
  ingestUrl: fc.webUrl().map((u) => u.replace(/^https?/, 'rtmp')),
  renditions: fc.subarray([...RENDITIONS]),
  limits: fc.record({ maxStreams: fc.nat({ max: 10 ** 6 }), maxRenditions: fc.nat({ max: 10 }) }),
})

describe('31990 DVM announcement', () => {
  it('invariant: getDvmAnnouncement(buildDvmAnnouncement(x)) equals x, through JSON', () => {
    fc.assert(
      fc.property(arbAnnouncement, (a) => {
        const e = JSON.parse(JSON.stringify(buildDvmAnnouncement(a, 0)))
        expect(e.kind).toBe(KIND_HANDLER_INFO)
        expect(e.tags).toContainEqual(['k', '5311'])
        expect(getDvmAnnouncement(e)).toEqual(a)
      }),
      { numRuns: 1000 },
    )
  })

  it('reads and rebuilds the fixture', () => {
    const a = getDvmAnnouncement(dvmAnnouncement)
    expect(a).toEqual({
      d: 'relaycast-dvm-1',
      name: 'Relaycast transcoder',
      about: 'Live RTMP to HLS ladder (H.264/AAC), 2 s segments.',
      ingestUrl: INGEST_URL,
      renditions: ['1080p', '720p', '480p', '360p', '240p'],
      limits: { maxStreams: 1, maxRenditions: 4 },
    })
    const rebuilt = buildDvmAnnouncement(a!, dvmAnnouncement.created_at)
    expect(rebuilt.tags).toEqual(dvmAnnouncement.tags)
    expect(JSON.parse(rebuilt.content)).toEqual(JSON.parse(dvmAnnouncement.content))
  })

  it('skips rendition names it does not know, and defaults a missing about', () => {
    const tags = dvmAnnouncement.tags.map((t) => (t[0] === 'renditions' ? ['renditions', '2160p', '720p'] : t))
    expect(getDvmAnnouncement({ ...dvmAnnouncement, tags, content: '{"name":"n"}' })).toMatchObject({ renditions: ['720p'], name: 'n', about: '' })
  })

  it('is undefined for other handlers and incomplete announcements', () => {
    const without = (name: string): typeof dvmAnnouncement => ({ ...dvmAnnouncement, tags: dvmAnnouncement.tags.filter((t) => t[0] !== name) })
    expect(getDvmAnnouncement({ ...dvmAnnouncement, tags: dvmAnnouncement.tags.map((t) => (t[0] === 'k' ? ['k', '5300'] : t)) })).toBeUndefined()
    expect(getDvmAnnouncement(without('k'))).toBeUndefined()
    expect(getDvmAnnouncement(without('d'))).toBeUndefined()
    expect(getDvmAnnouncement(without('ingest'))).toBeUndefined()
    expect(getDvmAnnouncement(without('limit'))).toBeUndefined()
    expect(getDvmAnnouncement({ ...dvmAnnouncement, content: 'not json' })).toBeUndefined()
    expect(getDvmAnnouncement({ ...dvmAnnouncement, content: '{"about":"no name"}' })).toBeUndefined()
    expect(getDvmAnnouncement({ ...dvmAnnouncement, kind: KIND_TEXT_NOTE })).toBeUndefined()
  })
})
