import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseCoordinate } from './coordinate.ts'
import { getEventHash, validateEventShape } from './event.ts'
import {
  JOB_STATUSES,
  JobError,
  RENDITIONS,
  buildJobFeedback,
  buildTranscodeRequest,
  buildTranscodeResult,
  generateStreamKey,
  getJobFeedback,
  getLatestTranscodeResult,
  getTranscodeRequest,
  getTranscodeResult,
  hashStreamKey,
  parseTranscodeRequest,
} from './job.ts'
import type { HlsVariant, JobFeedbackInput, TranscodeRequest } from './job.ts'
import { KIND_JOB_FEEDBACK, KIND_LIVE_EVENT, KIND_TEXT_NOTE, KIND_TRANSCODE_REQUEST, KIND_TRANSCODE_RESULT } from './kinds.ts'
import type { EventTemplate, NostrEvent } from './types.ts'
import {
  ALL_FIXTURES,
  COORD,
  DVM,
  HLS_BASE,
  INGEST_URL,
  MASTER_URL,
  RECORDING_URL,
  RELAY_URL,
  STREAMER,
  STREAM_KEY,
  STREAM_KEY_HASH,
  T0,
  VIEWER,
  feedbackError,
  feedbackLive,
  feedbackSuccess,
  feedbackWaiting,
  transcodeRequest,
  transcodeResult,
} from '../test/fixtures/events.ts'

const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })
const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }))
const nonEmpty = text.filter((s) => s !== '')
const coordinate = parseCoordinate(COORD)

/** Authored, hashed, shape-checked and sent through JSON; unsigned, since readers never verify. */
function authored(t: EventTemplate, pubkey = STREAMER): NostrEvent {
  const e = { ...t, pubkey, id: '', sig: '0'.repeat(128) }
  e.id = getEventHash(e)
  expect(validateEventShape(e)).toBeUndefined()
  return JSON.parse(JSON.stringify(e))
}

const arbRequest = (author: string): fc.Arbitrary<TranscodeRequest> =>
  fc.record(
    {
      coordinate: fc.record({ kind: fc.constant(KIND_LIVE_EVENT), pubkey: fc.constant(author), identifier: text }),
      keyHash: hex64,
      renditions: fc.oneof(fc.constant('audio' as const), fc.shuffledSubarray([...RENDITIONS], { minLength: 1 })),
      record: fc.boolean(),
      dvm: hex64,
      relays: fc.array(nonEmpty, { maxLength: 3 }),
      expiration: fc.integer({ min: 0, max: 2 ** 40 }),
    },
    { requiredKeys: ['coordinate', 'keyHash', 'renditions', 'record', 'relays', 'expiration'] },
  )

/** The fixture request with some tags replaced (by name, or param name) or added. */
function requestWith(change: { drop?: string[]; add?: string[][]; pubkey?: string }): NostrEvent {
  const tags = transcodeRequest.tags.filter((t) => !(change.drop ?? []).includes(t[0] === 'param' ? t[1] : t[0]))
  return authored({ ...transcodeRequest, tags: [...tags, ...(change.add ?? [])] }, change.pubkey ?? STREAMER)
}

describe('5311 transcode request', () => {
  it('invariant: parseTranscodeRequest(buildTranscodeRequest(r)) equals r, plus id, customer and time', () => {
    fc.assert(
      fc.property(arbRequest(STREAMER), fc.integer({ min: 0, max: 2 ** 40 }), (req, createdAt) => {
        const e = authored(buildTranscodeRequest(req, createdAt))
        expect(e.kind).toBe(KIND_TRANSCODE_REQUEST)
        expect(parseTranscodeRequest(e)).toEqual({ ...req, id: e.id, customer: STREAMER, created_at: createdAt })
      }),
      { numRuns: 1000 },
    )
  })

  it('builds exactly the fixture request (DESIGN.md tags)', () => {
    const req = parseTranscodeRequest(transcodeRequest)
    expect(req).toEqual({
      id: transcodeRequest.id,
      customer: STREAMER,
      created_at: transcodeRequest.created_at,
      coordinate,
      keyHash: STREAM_KEY_HASH,
      renditions: ['720p', '480p', '360p'],
      record: true,
      dvm: DVM,
      relays: [RELAY_URL],
      expiration: T0 + 86400,
    })
    expect(buildTranscodeRequest(req, transcodeRequest.created_at).tags).toEqual(transcodeRequest.tags)
  })

  it('accepts a request naming its stream only by the i tag, and a missing record as false', () => {
    const req = parseTranscodeRequest(requestWith({ drop: ['a', 'record'] }))
    expect(req.coordinate).toEqual(coordinate)
    expect(req.record).toBe(false)
  })

  it('refuses with a plain reason (what the DVM sends in its 7000 error)', () => {
    const cases: [NostrEvent, RegExp][] = [
      [authored({ ...transcodeRequest, kind: KIND_TEXT_NOTE }), /^not a transcode request \(kind 1\)$/],
      [requestWith({ drop: ['a', 'i'] }), /names no live event/],
      [requestWith({ drop: ['a'], add: [['a', `30023:${STREAMER}:article`]] }), /the a tag is not a 30311 coordinate/],
      [requestWith({ drop: ['a'], add: [['a', `30311:${STREAMER}:another`]] }), /the a and i tags name different live events/],
      [requestWith({ pubkey: VIEWER }), /belongs to another pubkey/],
      [requestWith({ drop: ['key_hash'] }), /^missing param key_hash$/],
      [requestWith({ drop: ['key_hash'], add: [['param', 'key_hash', STREAM_KEY]] }), /key_hash must be the sha256 of the stream key/],
      [requestWith({ drop: ['key_hash'], add: [['param', 'key_hash', STREAM_KEY_HASH.toUpperCase()]] }), /key_hash must be/],
      [requestWith({ add: [['param', 'key_hash', '0'.repeat(64)]] }), /^param key_hash is given more than once$/],
      [requestWith({ drop: ['renditions'] }), /^missing param renditions$/],
      [requestWith({ drop: ['renditions'], add: [['param', 'renditions', '']] }), /^param renditions is empty$/],
      [requestWith({ drop: ['renditions'], add: [['param', 'renditions', '720p,4k']] }), /^unknown rendition "4k" \(expected audio or some of 1080p, 720p, 480p, 360p, 240p\)$/],
      [requestWith({ drop: ['renditions'], add: [['param', 'renditions', '720p,720p']] }), /^rendition 720p is listed twice$/],
      [requestWith({ drop: ['record'], add: [['param', 'record', 'yes']] }), /^param record must be "true" or "false"$/],
      [requestWith({ drop: ['p'], add: [['p', 'npub1dvm']] }), /p tag must be the DVM pubkey/],
      [requestWith({ drop: ['expiration'] }), /^missing expiration tag$/],
      [requestWith({ drop: ['expiration'], add: [['expiration', 'tomorrow']] }), /^expiration must be a unix time in seconds$/],
    ]
    for (const [e, reason] of cases) {
      expect(() => parseTranscodeRequest(e)).toThrow(JobError)
      expect(() => parseTranscodeRequest(e)).toThrow(reason)
      expect(getTranscodeRequest(e)).toBeUndefined()
    }
  })

  it('refuses an expired request when given a clock, at the boundary', () => {
    const expiration = T0 + 86400
    expect(parseTranscodeRequest(transcodeRequest, { now: expiration - 1 }).expiration).toBe(expiration)
    expect(() => parseTranscodeRequest(transcodeRequest, { now: expiration })).toThrow(`request expired at ${expiration}`)
    expect(getTranscodeRequest(transcodeRequest, { now: expiration + 1 })).toBeUndefined()
  })

  it('invariant: getTranscodeRequest never throws, whatever the tags', () => {
    const tag = fc.array(fc.oneof(fc.constantFrom('a', 'i', 'p', 'param', 'key_hash', 'renditions', 'record', 'expiration', 'event', COORD), fc.string()), {
      maxLength: 4,
    })
    fc.assert(
      fc.property(fc.array(tag, { maxLength: 8 }), (tags) => {
        const e = { ...transcodeRequest, tags }
        const req = getTranscodeRequest(e)
        if (req) expect(req.customer).toBe(STREAMER)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('stream keys', () => {
  it('hashStreamKey is hex sha256 of the UTF-8 key', () => {
    expect(hashStreamKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(hashStreamKey(STREAM_KEY)).toBe(STREAM_KEY_HASH)
  })

  it('generateStreamKey makes 32 URL-safe characters the RTMP server accepts, never the same twice', () => {
    const keys = new Set<string>()
    for (let i = 0; i < 1000; i++) {
      const key = generateStreamKey()
      expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/)
      keys.add(key)
    }
    expect(keys.size).toBe(1000)
  })

  it('invariant: the stream key appears in no event built for its job (request, feedbacks, result)', () => {
    const statuses = fc.constantFrom(...JOB_STATUSES)
    fc.assert(
      fc.property(arbRequest(STREAMER), statuses, (req, status) => {
        const key = generateStreamKey()
        const request = authored(buildTranscodeRequest({ ...req, keyHash: hashStreamKey(key) }, T0))
        const built = [
          request,
          buildJobFeedback({ request, status, message: 'waiting for OBS', extra: { live: false, ingestUrl: INGEST_URL, recording: RECORDING_URL } }, T0),
          buildTranscodeResult({ request, masterUrl: MASTER_URL, variants: [], ingestUrl: INGEST_URL }, T0),
        ]
        for (const e of built) expect(JSON.stringify(e)).not.toContain(key)
      }),
      { numRuns: 1000 },
    )
  })

  it('the fixture stream key appears in no fixture', () => {
    for (const [name, e] of Object.entries(ALL_FIXTURES)) expect([name, JSON.stringify(e).includes(STREAM_KEY)]).toEqual([name, false])
  })
})

describe('7000 job feedback', () => {
  const arbFeedback: fc.Arbitrary<Omit<JobFeedbackInput, 'request'>> = fc.record(
    {
      status: fc.constantFrom(...JOB_STATUSES),
      message: text,
      extra: fc.record({ live: fc.boolean(), ingestUrl: nonEmpty, recording: nonEmpty }, { requiredKeys: [] }),
    },
    { requiredKeys: ['status', 'message'] },
  )

  it('invariant: getJobFeedback(buildJobFeedback(x)) gives back x, the request, the customer and the stream', () => {
    fc.assert(
      fc.property(arbFeedback, (input) => {
        const e = authored(buildJobFeedback({ ...input, request: transcodeRequest }, T0), DVM)
        expect(e.kind).toBe(KIND_JOB_FEEDBACK)
        expect(getJobFeedback(e)).toEqual({
          status: input.status,
          message: input.message,
          ...input.extra,
          requestId: transcodeRequest.id,
          customer: STREAMER,
          coordinate,
        })
      }),
      { numRuns: 1000 },
    )
  })

  it('builds exactly the fixture feedbacks', () => {
    const build = (fixture: NostrEvent, extra?: JobFeedbackInput['extra']): EventTemplate => {
      const f = getJobFeedback(fixture)!
      return buildJobFeedback({ request: transcodeRequest, status: f.status, message: f.message, extra }, fixture.created_at)
    }
    expect(build(feedbackWaiting, { live: false, ingestUrl: INGEST_URL }).tags).toEqual(feedbackWaiting.tags)
    expect(build(feedbackLive, { live: true }).tags).toEqual(feedbackLive.tags)
    expect(build(feedbackError).tags).toEqual(feedbackError.tags)
    expect(build(feedbackSuccess, { live: false, recording: RECORDING_URL }).tags).toEqual(feedbackSuccess.tags)
  })

  it('reads the fixtures', () => {
    const base = { requestId: transcodeRequest.id, customer: STREAMER, coordinate }
    expect(getJobFeedback(feedbackWaiting)).toEqual({ ...base, status: 'processing', message: 'waiting for OBS', live: false, ingestUrl: INGEST_URL })
    expect(getJobFeedback(feedbackLive)).toEqual({ ...base, status: 'processing', message: 'live: 720p, 480p, 360p', live: true })
    expect(getJobFeedback(feedbackError)).toMatchObject({ status: 'error', message: expect.stringContaining('unknown rendition') })
    expect(getJobFeedback(feedbackSuccess)).toMatchObject({ status: 'success', recording: RECORDING_URL })
  })

  it('an error about a request that named no stream carries no a tag', () => {
    const bad = requestWith({ drop: ['a', 'i'] })
    const e = buildJobFeedback({ request: bad, status: 'error', message: 'the request names no live event' }, T0)
    expect(e.tags.some((t) => t[0] === 'a')).toBe(false)
    expect(getJobFeedback(authored(e, DVM))).toEqual({ status: 'error', message: 'the request names no live event', requestId: bad.id, customer: STREAMER })
  })

  it('is undefined for another kind, an unknown status, or no e / p', () => {
    expect(getJobFeedback({ ...feedbackLive, kind: KIND_TEXT_NOTE })).toBeUndefined()
    expect(getJobFeedback({ ...feedbackLive, tags: [['status', 'partial', ''], ...feedbackLive.tags.slice(1)] })).toBeUndefined()
    expect(getJobFeedback({ ...feedbackLive, tags: feedbackLive.tags.filter((t) => t[0] !== 'e') })).toBeUndefined()
    expect(getJobFeedback({ ...feedbackLive, tags: feedbackLive.tags.filter((t) => t[0] !== 'p') })).toBeUndefined()
  })
})

describe('6311 transcode result', () => {
  const arbVariant: fc.Arbitrary<HlsVariant> = fc.oneof(
    fc.record({ name: fc.constantFrom(...RENDITIONS), url: fc.webUrl(), width: fc.integer({ min: 1, max: 7680 }), height: fc.integer({ min: 1, max: 4320 }), bandwidth: fc.nat({ max: 10 ** 9 }) }),
    fc.record({ name: fc.constant('audio'), url: fc.webUrl(), bandwidth: fc.nat({ max: 10 ** 6 }) }),
  )

  it('invariant: getTranscodeResult(buildTranscodeResult(x)) gives back x', () => {
    fc.assert(
      fc.property(
        fc.record(
          { masterUrl: fc.webUrl(), variants: fc.array(arbVariant, { maxLength: 5 }), ingestUrl: nonEmpty, recording: nonEmpty },
          { requiredKeys: ['masterUrl', 'variants', 'ingestUrl'] },
        ),
        (input) => {
          const e = authored(buildTranscodeResult({ ...input, request: transcodeRequest }, T0), DVM)
          expect(e.kind).toBe(KIND_TRANSCODE_RESULT)
          expect(getTranscodeResult(e)).toEqual({ ...input, requestId: transcodeRequest.id, customer: STREAMER, coordinate })
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('carries the NIP-90 request, e, p and i tags', () => {
    const e = buildTranscodeResult({ request: transcodeRequest, masterUrl: MASTER_URL, variants: [], ingestUrl: INGEST_URL }, T0)
    expect(JSON.parse(e.tags.find((t) => t[0] === 'request')![1])).toEqual(transcodeRequest)
    expect(e.tags).toContainEqual(['e', transcodeRequest.id, RELAY_URL])
    expect(e.tags).toContainEqual(['p', STREAMER])
    expect(e.tags).toContainEqual(['i', COORD, 'event'])
    expect(e.content).toBe(MASTER_URL)
  })

  it('reads and rebuilds the fixture result', () => {
    const result = getTranscodeResult(transcodeResult)!
    expect(result).toEqual({
      requestId: transcodeRequest.id,
      customer: STREAMER,
      coordinate,
      masterUrl: MASTER_URL,
      ingestUrl: INGEST_URL,
      variants: [
        { name: '720p', url: `${HLS_BASE}/720p/index.m3u8`, bandwidth: 3_000_000, width: 1280, height: 720 },
        { name: '480p', url: `${HLS_BASE}/480p/index.m3u8`, bandwidth: 1_400_000, width: 854, height: 480 },
        { name: '360p', url: `${HLS_BASE}/360p/index.m3u8`, bandwidth: 800_000, width: 640, height: 360 },
      ],
    })
    const rebuilt = buildTranscodeResult({ request: transcodeRequest, ...result }, transcodeResult.created_at)
    expect(rebuilt).toEqual({ kind: KIND_TRANSCODE_RESULT, created_at: transcodeResult.created_at, tags: transcodeResult.tags, content: MASTER_URL })
  })

  it('the newest readable 6311 by the DVM for the request is the current one', () => {
    const at = (t: number, extra: { recording?: string; pubkey?: string; request?: NostrEvent } = {}) =>
      authored(buildTranscodeResult({ request: extra.request ?? transcodeRequest, masterUrl: MASTER_URL, variants: [], ingestUrl: INGEST_URL, ...(extra.recording ? { recording: extra.recording } : {}) }, t), extra.pubkey ?? DVM)
    const first = at(T0)
    const last = at(T0 + 10, { recording: RECORDING_URL })
    const forged = at(T0 + 20, { recording: 'https://evil.example/x.mp4', pubkey: VIEWER })
    const other = at(T0 + 30, { request: { ...transcodeRequest, id: 'f'.repeat(64) } })
    const broken = { ...at(T0 + 40), content: '' }
    expect(getLatestTranscodeResult([first, last, forged, other, broken], transcodeRequest.id, DVM)?.recording).toBe(RECORDING_URL)
    expect(getLatestTranscodeResult([first], transcodeRequest.id, DVM)?.recording).toBeUndefined()
    expect(getLatestTranscodeResult([forged, other], transcodeRequest.id, DVM)).toBeUndefined()
  })

  it('is undefined without a master URL or ingest URL, or with a malformed variant', () => {
    expect(getTranscodeResult({ ...transcodeResult, content: '' })).toBeUndefined()
    expect(getTranscodeResult({ ...transcodeResult, tags: transcodeResult.tags.filter((t) => t[0] !== 'ingest') })).toBeUndefined()
    expect(getTranscodeResult({ ...transcodeResult, tags: [...transcodeResult.tags, ['variant', '720p', 'u', 'fast']] })).toBeUndefined()
    expect(getTranscodeResult({ ...transcodeResult, tags: [...transcodeResult.tags, ['variant', '720p', 'u', '1', '720p']] })).toBeUndefined()
    expect(getTranscodeResult({ ...transcodeResult, kind: KIND_JOB_FEEDBACK })).toBeUndefined()
  })
})
