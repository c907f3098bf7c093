import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseCoordinate } from './coordinate.ts'
import { KIND_SERVICE_METRICS, KIND_TEXT_NOTE } from './kinds.ts'
import { STREAM_HEALTHS, buildServiceMetrics, getServiceMetrics } from './metrics.ts'
import type { ServiceMetrics } from './metrics.ts'
import { COHOST, COORD, T0, audioTrack, relayMetrics, transcoderMetrics } from '../test/fixtures/events.ts'

const coordinate = parseCoordinate(COORD)
const count = fc.nat({ max: 10 ** 7 })
const measure = fc.double({ min: 0, max: 1e6, noNaN: true })

const arbMetrics: fc.Arbitrary<ServiceMetrics> = fc.record({
  coordinate: fc.record({ kind: fc.constant(coordinate.kind), pubkey: fc.constant(coordinate.pubkey), identifier: fc.string({ unit: 'grapheme' }) }),
  status: fc.constantFrom('live' as const, 'ended' as const),
  expiration: fc.integer({ min: 0, max: 2 ** 40 }),
}).chain((base) =>
  fc.oneof(
    fc.record({ viewers: count, total: count, peak: count, chatMessages: count }).map((figures) => ({ ...base, service: 'relay' as const, figures })),
    fc
      .record({
        bitrateKbps: measure,
        fps: measure,
        width: count,
        height: count,
        droppedFrames: count,
        speed: measure,
        hlsViewers: count,
        health: fc.constantFrom(...STREAM_HEALTHS),
      })
      .map((figures) => ({ ...base, service: 'transcoder' as const, figures })),
  ),
)

describe('31337 service metrics', () => {
  it('invariant: getServiceMetrics(buildServiceMetrics(m)) equals m, through JSON', () => {
    fc.assert(
      fc.property(arbMetrics, (m) => {
        const e = JSON.parse(JSON.stringify(buildServiceMetrics(m, T0)))
        expect(e.kind).toBe(KIND_SERVICE_METRICS)
        expect(getServiceMetrics(e)).toEqual(m)
      }),
      { numRuns: 1000 },
    )
  })

  it('is addressed by the stream coordinate, with the DESIGN.md tags', () => {
    const e = buildServiceMetrics({ coordinate, service: 'relay', status: 'live', expiration: T0 + 300, figures: { viewers: 1, total: 2, peak: 3, chatMessages: 4 } }, T0)
    expect(e.tags).toEqual([
      ['d', COORD],
      ['a', COORD],
      ['service', 'relay'],
      ['type', 'metrics'],
      ['status', 'live'],
      ['expiration', String(T0 + 300)],
    ])
    expect(JSON.parse(e.content)).toEqual({ viewers: 1, total: 2, peak: 3, chatMessages: 4 })
  })

  it('reads and rebuilds both fixture services', () => {
    const relay = getServiceMetrics(relayMetrics)
    expect(relay).toEqual({ coordinate, service: 'relay', status: 'live', expiration: T0 + 450, figures: { viewers: 12, total: 40, peak: 17, chatMessages: 233 } })
    const transcoder = getServiceMetrics(transcoderMetrics)
    expect(transcoder).toEqual({
      coordinate,
      service: 'transcoder',
      status: 'live',
      expiration: T0 + 450,
      figures: { bitrateKbps: 4500, fps: 30, width: 1920, height: 1080, droppedFrames: 3, speed: 1.02, hlsViewers: 9, health: 'good' },
    })
    for (const [fixture, read] of [[relayMetrics, relay], [transcoderMetrics, transcoder]] as const) {
      const rebuilt = buildServiceMetrics(read!, fixture.created_at)
      expect(rebuilt.tags).toEqual(fixture.tags)
      expect(JSON.parse(rebuilt.content)).toEqual(JSON.parse(fixture.content))
    }
  })

  it('never reads an audio-track 31337 as metrics', () => {
    expect(audioTrack.kind).toBe(KIND_SERVICE_METRICS)
    expect(getServiceMetrics(audioTrack)).toBeUndefined()
    // Even with type=metrics, an a that is not a 30311 is not a stream.
    const typed = { ...audioTrack, tags: [...audioTrack.tags.filter((t) => t[0] !== 'a'), ['type', 'metrics'], ['a', `31337:${COHOST}:night-drive`]] }
    expect(getServiceMetrics(typed)).toBeUndefined()
  })

  it('is undefined for missing type, mismatched d, unknown service or status, bad figures', () => {
    const tagged = (name: string, ...value: string[]): typeof relayMetrics => ({
      ...relayMetrics,
      tags: [...relayMetrics.tags.filter((t) => t[0] !== name), ...(value.length ? [[name, ...value]] : [])],
    })
    expect(getServiceMetrics(tagged('type'))).toBeUndefined()
    expect(getServiceMetrics(tagged('type', 'audio'))).toBeUndefined()
    expect(getServiceMetrics(tagged('a'))).toBeUndefined()
    expect(getServiceMetrics(tagged('d', 'other'))).toBeUndefined()
    expect(getServiceMetrics(tagged('service', 'cdn'))).toBeUndefined()
    expect(getServiceMetrics(tagged('status', 'planned'))).toBeUndefined()
    expect(getServiceMetrics(tagged('expiration'))).toBeUndefined()
    expect(getServiceMetrics({ ...relayMetrics, content: '{"viewers":1}' })).toBeUndefined()
    expect(getServiceMetrics({ ...relayMetrics, content: '{"viewers":-1,"total":0,"peak":0,"chatMessages":0}' })).toBeUndefined()
    expect(getServiceMetrics({ ...relayMetrics, content: '[1,2]' })).toBeUndefined()
    expect(getServiceMetrics({ ...relayMetrics, content: 'nope' })).toBeUndefined()
    expect(getServiceMetrics({ ...transcoderMetrics, content: transcoderMetrics.content.replace('"good"', '"great"') })).toBeUndefined()
    expect(getServiceMetrics({ ...relayMetrics, kind: KIND_TEXT_NOTE })).toBeUndefined()
  })

  it('drops figures it does not know (a newer service), keeping the rest', () => {
    const content = JSON.stringify({ viewers: 1, total: 2, peak: 3, chatMessages: 4, zaps: 9 })
    expect(getServiceMetrics({ ...relayMetrics, content })?.figures).toEqual({ viewers: 1, total: 2, peak: 3, chatMessages: 4 })
  })
})
