import { describe, expect, it } from 'vitest'
import { buildDvmAnnouncement, getDvmAnnouncement } from '../../protocol/announce.ts'
import { buildJobFeedback, buildTranscodeResult, getTranscodeRequest, hashStreamKey } from '../../protocol/job.ts'
import type { JobFeedbackInput } from '../../protocol/job.ts'
import { KIND_DELETION, KIND_LIVE_EVENT, KIND_TRANSCODE_REQUEST } from '../../protocol/kinds.ts'
import { getLiveEvent } from '../../protocol/nip53.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { testPubkey, testSigner } from '../../test/fixtures/keys.ts'
import type { Transcoder } from './dvms.ts'
import { createFakePool } from './fake-pool.ts'
import { createGoLive, getQualityOptions, getRecommendedBitrate } from './go-live.ts'
import { createMemoryStorage } from './settings.ts'

const T = 1_750_000_000
const host = testSigner('host')
const dvm = testSigner('dvm')
const INGEST = 'rtmp://127.0.0.1:1935/live'
const MASTER = 'http://127.0.0.1:8088/hls/abc/master.m3u8'
const ann = getDvmAnnouncement(
  buildDvmAnnouncement({ d: 'n1', name: 'Local transcoder', about: '', ingestUrl: INGEST, renditions: ['1080p', '720p', '480p', '360p'], limits: { maxStreams: 1, maxRenditions: 3 } }),
)!
const transcoder: Transcoder = { ...ann, pubkey: testPubkey('dvm'), announcedAt: T }

function setup(storage = createMemoryStorage()) {
  const pool = createFakePool()
  let clock = T
  const model = createGoLive({ pool, sign: async (t) => host(t), pubkey: () => testPubkey('host'), relays: () => ['ws://127.0.0.1:7777'], storage, now: () => clock, refreshEveryMs: 60_000 })
  const stop = model.start()
  const of = (kind: number) => pool.published.filter((e) => e.kind === kind)
  const lastLive = () => getLiveEvent(of(KIND_LIVE_EVENT).at(-1)!)!
  const request = () => of(KIND_TRANSCODE_REQUEST).at(-1)!
  const reply = (input: Omit<JobFeedbackInput, 'request'>) => pool.deliver(dvm(buildJobFeedback({ request: request(), ...input }, clock)))
  return { pool, model, stop, of, lastLive, request, reply, tick: (s: number) => (clock += s), storage }
}

async function fill(model: ReturnType<typeof setup>['model'], extra: Partial<ReturnType<typeof setup>['model']['form']['value']> = {}) {
  model.form.value = { ...model.form.value, title: 'My show', summary: 'hello', category: 'Music', tags: 'Live, jazz ', quality: '720p,480p', ...extra }
  return model.submit(transcoder)
}

describe('go live', () => {
  it('refuses an incomplete form in plain words, publishing nothing', async () => {
    const { model, pool } = setup()
    expect(await model.submit(transcoder)).toBe(false)
    expect(model.error.value).toMatch(/title/)
    expect(pool.published).toEqual([])
  })

  it('signs a planned 30311 and a 5311 carrying only the hash of a browser-made key', async () => {
    const { model, of, request } = setup()
    expect(await fill(model)).toBe(true)
    const planned = getLiveEvent(of(KIND_LIVE_EVENT)[0])!
    expect(planned).toMatchObject({ status: 'planned', title: 'My show', category: 'music', tags: ['live', 'jazz'], relays: ['ws://127.0.0.1:7777'], chat: true, unlisted: false })
    expect(planned.streaming).toBeUndefined()
    const job = getTranscodeRequest(request())!
    expect(job).toMatchObject({ renditions: ['720p', '480p'], record: false, dvm: testPubkey('dvm'), relays: ['ws://127.0.0.1:7777'] })
    expect(job.coordinate).toEqual(model.coordinate.value)
    const key = model.streamKey.value!
    expect(job.keyHash).toBe(hashStreamKey(key))
    expect(JSON.stringify(request())).not.toContain(key)
    expect(model.statusText.value).toBe('waiting for OBS')
    expect(model.ingestUrl.value).toBe(INGEST)
  })

  it('goes live with the streaming URL when the DVM says media flows, and re-signs while live', async () => {
    const { model, pool, reply, of, lastLive, request, tick } = setup()
    await fill(model)
    pool.deliver(dvm(buildTranscodeResult({ request: request(), masterUrl: MASTER, variants: [], ingestUrl: INGEST }, T)))
    reply({ status: 'processing', message: 'waiting for OBS', extra: { live: false, ingestUrl: INGEST } })
    expect(model.phase.value).toBe('waiting')
    tick(5)
    model.setCounts(() => ({ current: 4, total: 9 }))
    reply({ status: 'processing', message: 'live', extra: { live: true, ingestUrl: INGEST } })
    await Promise.resolve()
    expect(model.statusText.value).toBe('live')
    await model.refresh()
    const live = lastLive()
    expect(live).toMatchObject({ status: 'live', streaming: MASTER, currentParticipants: 4, totalParticipants: 9, starts: T + 5 })
    const versions = of(KIND_LIVE_EVENT).map((e) => e.created_at)
    expect(new Set(versions).size).toBe(versions.length) // each version newer than the last
  })

  it('ignores feedback for another job and reports a DVM error plainly', async () => {
    const { model, pool, reply } = setup()
    await fill(model)
    const other = { ...(await host({ kind: KIND_TRANSCODE_REQUEST, created_at: T, tags: [], content: '' })) } as NostrEvent
    pool.deliver(dvm(buildJobFeedback({ request: other, status: 'processing', message: 'live', extra: { live: true } }, T)))
    expect(model.phase.value).toBe('waiting')
    reply({ status: 'error', message: 'too many streams on this node' })
    expect(model.phase.value).toBe('failed')
    expect(model.error.value).toBe('The transcoder reported a problem: too many streams on this node')
  })

  it('regenerating the key sends a newer job with a new hash for the same stream', async () => {
    const { model, of } = setup()
    await fill(model)
    const first = model.streamKey.value
    expect(await model.regenerateKey()).toBe(true)
    const jobs = of(KIND_TRANSCODE_REQUEST).map((e) => getTranscodeRequest(e)!)
    expect(jobs.length).toBe(2)
    expect(model.streamKey.value).not.toBe(first)
    expect(jobs[1].keyHash).toBe(hashStreamKey(model.streamKey.value!))
    expect(jobs[1].coordinate).toEqual(jobs[0].coordinate)
    expect(of(KIND_TRANSCODE_REQUEST)[1].created_at).toBeGreaterThan(of(KIND_TRANSCODE_REQUEST)[0].created_at)
  })

  it('stop revokes the job (kind 5) and signs ended', async () => {
    const { model, pool, reply, of, lastLive, request } = setup()
    await fill(model)
    pool.deliver(dvm(buildTranscodeResult({ request: request(), masterUrl: MASTER, variants: [], ingestUrl: INGEST }, T)))
    reply({ status: 'processing', message: 'live', extra: { live: true } })
    expect(await model.stop()).toBe(true)
    expect(of(KIND_DELETION)[0].tags).toContainEqual(['e', request().id])
    expect(lastLive()).toMatchObject({ status: 'ended' })
    expect(lastLive().streaming).toBeUndefined()
    expect(model.statusText.value).toBe('ended')
  })

  it('with a recording, stop waits for OBS to stop and then adds the recording to the ended event', async () => {
    const { model, pool, reply, of, lastLive, request } = setup()
    await fill(model, { record: true })
    pool.deliver(dvm(buildTranscodeResult({ request: request(), masterUrl: MASTER, variants: [], ingestUrl: INGEST }, T)))
    reply({ status: 'processing', message: 'live', extra: { live: true } })
    await model.stop()
    expect(of(KIND_DELETION)).toEqual([]) // a deleted job's recording is discarded
    expect(model.phase.value).toBe('stopping')
    expect(lastLive().status).toBe('ended')
    reply({ status: 'success', message: 'the stream ended', extra: { live: false, recording: 'http://127.0.0.1:8088/abc.mp4' } })
    await new Promise((r) => setTimeout(r, 0))
    expect(model.phase.value).toBe('ended')
    expect(lastLive()).toMatchObject({ status: 'ended', recording: 'http://127.0.0.1:8088/abc.mp4' })
  })

  it('survives a reload: the stream, key and job come back from storage, and a live one is re-signed at once', async () => {
    const a = setup()
    await fill(a.model)
    a.pool.deliver(dvm(buildTranscodeResult({ request: a.request(), masterUrl: MASTER, variants: [], ingestUrl: INGEST }, T)))
    a.reply({ status: 'processing', message: 'live', extra: { live: true } })
    await a.model.setSlowMode(5)
    a.stop()
    const b = setup(a.storage)
    expect(b.model.coordinate.value).toEqual(a.model.coordinate.value)
    expect(b.model.streamKey.value).toBe(a.model.streamKey.value)
    expect(b.model.phase.value).toBe('live')
    expect(b.model.slowMode.value).toBe(5)
    await new Promise((r) => setTimeout(r, 0))
    expect(getLiveEvent(b.of(KIND_LIVE_EVENT).at(-1)!)).toMatchObject({ status: 'live', streaming: MASTER })
    b.stop()
    b.model.reset()
    expect(setup(a.storage).model.coordinate.value).toBeUndefined()
  })

  it('pins a message and sets slow mode on the live event, and drops both when it ends', async () => {
    const { model, pool, reply, of, request } = setup()
    await fill(model)
    await model.setSlowMode(10)
    expect(of(KIND_LIVE_EVENT).at(-1)!.tags).toContainEqual(['slow_mode', '10'])
    pool.deliver(dvm(buildTranscodeResult({ request: request(), masterUrl: MASTER, variants: [], ingestUrl: INGEST }, T)))
    reply({ status: 'processing', message: 'live', extra: { live: true } })
    await model.pin('f'.repeat(64))
    const live = of(KIND_LIVE_EVENT).at(-1)!
    expect(live.tags).toContainEqual(['pinned', 'f'.repeat(64)])
    expect(live.tags).toContainEqual(['slow_mode', '10'])
    expect(getLiveEvent(live)!.status).toBe('live')
    await model.stop()
    expect(of(KIND_LIVE_EVENT).at(-1)!.tags.some((t) => t[0] === 'pinned' || t[0] === 'slow_mode')).toBe(false)
  })

  it('offers the ladders the transcoder can make, and OBS bitrates for the top rung', () => {
    expect(getQualityOptions(transcoder).map((q) => q.value)).toEqual(['1080p,720p,480p', '720p,480p,360p', '480p,360p', '720p', 'audio'])
    expect(getRecommendedBitrate('720p,480p,360p')).toBe(4500)
    expect(getRecommendedBitrate('audio')).toBe(0)
  })
})
