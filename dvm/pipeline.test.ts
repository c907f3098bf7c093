import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateStreamKey } from '../protocol/job.ts'
import { ffprobe } from '../test/media/ffprobe.ts'
import { startMediaHarness } from '../test/media/harness.ts'
import type { MediaHarness } from '../test/media/harness.ts'
import { captureConsole, captureLog } from '../test/media/log-capture.ts'
import { ensureTestClip, pushTestStream } from '../test/media/push.ts'
import { waitFor } from '../test/media/wait.ts'
import { classifyHealth, createPipeline } from './pipeline.ts'
import type { PipelineEvent } from './pipeline.ts'
import { variantBandwidth } from './ladder.ts'
import { countSegments, getMediaSequence, hasEndList } from './playlist.ts'

// Real parts end to end: ffmpeg pushing like OBS → ingest → pipeline (ffprobe + ffmpeg ladder) →
// HLS files → origin over HTTP → ffprobe reading the variants back. The pushes loop pre-encoded
// clips so the two shared cores go to the transcoder under test, not to making test input.

describe('transcoder pipeline with real ingest, ffmpeg and origin', () => {
  let h: MediaHarness
  const logs = captureLog()
  const stdio = captureConsole()
  const keys: string[] = []
  const bodies: string[] = []
  const newKey = () => {
    const key = generateStreamKey()
    keys.push(key)
    return key
  }
  /** Fetches through the origin and keeps what came back for the key check at the end. */
  const get = async (url: string) => {
    const res = await fetch(url)
    const body = Buffer.from(await res.arrayBuffer())
    bodies.push(JSON.stringify([...res.headers]), body.toString('latin1'))
    return { res, text: body.toString('utf8') }
  }

  beforeAll(async () => {
    h = await startMediaHarness({ log: logs.log, graceMs: 3_000 })
  })

  afterAll(async () => {
    await h?.close()
    stdio.restore()
  })

  it('turns a 1080p30 push into 720/480/360 variants that ffprobe reads at the expected sizes', async () => {
    const clip = await ensureTestClip({ width: 1920, height: 1080, fps: 30, keyframeSeconds: 1 })
    const key = newKey()
    const pipeline = h.addJob('job-1080', key, { renditions: ['720p', '480p', '360p'], preset: 'ultrafast', streamId: 'ladder' })
    const abort = new AbortController()
    // Until aborted: on a busy box the checks below can outlast a fixed-length push.
    const push = pushTestStream({ url: h.rtmpUrl(key), clip, signal: abort.signal })

    const live = await h.waitEvent('job-1080', 'live', undefined, 40_000)
    expect(live.resumed).toBe(false)
    expect(live.probe).toMatchObject({ width: 1920, height: 1080, videoCodec: 'h264', hasAudio: true })
    expect(live.variants.map((v) => v.name)).toEqual(['720p', '480p', '360p'])

    const { res, text: master } = await get(h.hlsUrl('ladder'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl')
    expect(master).toMatch(/RESOLUTION=1280x720/)
    expect(master).toMatch(/RESOLUTION=854x480/)
    expect(master).toMatch(/RESOLUTION=640x360/)
    // What the 6311 result will announce is what the master playlist says.
    for (const v of live.variants) expect(master).toContain(`BANDWIDTH=${variantBandwidth(v)},`)

    const expected: Record<string, [number, number]> = { '720p': [1280, 720], '480p': [854, 480], '360p': [640, 360] }
    for (const [name, [width, height]] of Object.entries(expected)) {
      const streams = await ffprobe(h.hlsUrl('ladder', `${name}.m3u8`))
      expect(streams.find((s) => s.codec_type === 'video'), name).toMatchObject({ codec_name: 'h264', width, height })
      expect(streams.find((s) => s.codec_type === 'audio')?.codec_name, name).toBe('aac')
    }

    // Aligned GOPs: the variants cut their segments at the same times. Each variant's playlist is
    // written on its own schedule, so wait until both list two segments before comparing them.
    const durations = async (name: string) => (await readFile(join(h.hlsRoot, 'ladder', `${name}.m3u8`), 'utf8')).match(/#EXTINF:[0-9.]+/g)?.slice(0, 2) ?? []
    await waitFor('two segments in 720p and 480p', async () => (await durations('720p')).length === 2 && (await durations('480p')).length === 2, 20_000)
    expect(await durations('480p')).toEqual(await durations('720p'))

    const health = pipeline.health()
    expect(health).toMatchObject({ width: 1920, height: 1080 })
    expect(health!.fps).toBeGreaterThan(0)
    expect(health!.bitrateKbps).toBeGreaterThan(0)

    // Job revoked while live: the stream ends cleanly and every playlist says so.
    await pipeline.stop()
    h.ingest.disconnect('job-1080')
    abort.abort()
    await push.exited
    expect((await h.waitEvent('job-1080', 'ended')).reason).toBe('stopped')
    for (const name of Object.keys(expected)) {
      const { res: vr, text } = await get(h.hlsUrl('ladder', `${name}.m3u8`))
      expect(text.trimEnd().endsWith('#EXT-X-ENDLIST'), name).toBe(true)
      expect(vr.headers.get('cache-control')).toBe('public, max-age=3600')
    }
  }, 90_000)

  it('refuses a wrong key: no publish, no pipeline run, no HLS', async () => {
    const key = newKey()
    h.addJob('job-wrong', key, { renditions: ['240p'], streamId: 'wrong' })
    const clip = await ensureTestClip({ width: 426, height: 240, fps: 15, keyframeSeconds: 1 })
    const { code } = await pushTestStream({ url: h.rtmpUrl(newKey()), clip, seconds: 8 }).exited
    expect(code).not.toBe(0)
    expect(h.publishes.some((p) => p.jobId === 'job-wrong')).toBe(false)
    expect(h.events.some((e) => e.jobId === 'job-wrong')).toBe(false)
    expect(await readdir(join(h.hlsRoot, 'wrong')).catch(() => 'absent')).toBe('absent')
    expect((await get(h.hlsUrl('wrong'))).res.status).toBe(404)
  }, 30_000)

  it('continues the same playlists after a reconnect within the grace period, with a discontinuity, then ends them', async () => {
    const clip = await ensureTestClip({ width: 640, height: 360, fps: 30, keyframeSeconds: 1 })
    const key = newKey()
    h.addJob('job-resume', key, { renditions: ['360p', '240p'], preset: 'ultrafast', streamId: 'resume' })

    const first = new AbortController()
    const push1 = pushTestStream({ url: h.rtmpUrl(key), clip, seconds: 20, signal: first.signal })
    await h.waitEvent('job-resume', 'live')
    const url360 = h.hlsUrl('resume', '360p.m3u8')
    const before = (await get(url360)).text
    expect(before).not.toContain('#EXT-X-DISCONTINUITY')

    first.abort()
    await push1.exited
    await h.waitEvent('job-resume', 'reconnecting')
    // Gone, but not over: no ENDLIST while the publisher may come back.
    expect(hasEndList((await get(url360)).text)).toBe(false)

    const second = new AbortController()
    const push2 = pushTestStream({ url: h.rtmpUrl(key), clip, seconds: 20, signal: second.signal })
    const again = await h.waitEvent('job-resume', 'live', (e) => e.resumed)
    expect(again.variants.map((v) => v.name)).toEqual(['360p', '240p'])
    const after = (await get(url360)).text
    expect(after).toContain('#EXT-X-DISCONTINUITY')
    // Same playlist, numbering carried on: the first new segment follows the last old one.
    expect(getMediaSequence(after) + countSegments(after)).toBeGreaterThan(getMediaSequence(before) + countSegments(before))
    const master = (await get(h.hlsUrl('resume'))).text
    expect(master).toContain('360p.m3u8')
    expect(master).toContain('240p.m3u8')

    second.abort()
    await push2.exited
    const ended = await h.waitEvent('job-resume', 'ended')
    expect(ended.reason).toBe('publisher-left')
    // The grace period was waited out, not skipped.
    const gone = h.events.filter((e) => e.jobId === 'job-resume' && e.type === 'reconnecting').at(-1)!
    expect(ended.at - gone.at).toBeGreaterThanOrEqual(2_900)
    for (const name of ['360p', '240p']) {
      const text = (await get(h.hlsUrl('resume', `${name}.m3u8`))).text
      expect(text.trimEnd().endsWith('#EXT-X-ENDLIST'), name).toBe(true)
    }
  }, 90_000)

  it('restarts ffmpeg once when it dies while media flows, then fails the stream with its playlists ended', async () => {
    // An ffmpeg that stops on its own after 2 s of input, every time.
    const wrapper = join(h.dir, 'short-ffmpeg.sh')
    await writeFile(wrapper, '#!/bin/sh\nexec ffmpeg -t 2 "$@"\n')
    await chmod(wrapper, 0o755)
    const clip = await ensureTestClip({ width: 426, height: 240, fps: 15, keyframeSeconds: 1 })
    const key = newKey()
    h.addJob('job-die', key, { renditions: ['240p'], streamId: 'die', ffmpegPath: wrapper })
    const abort = new AbortController()
    const push = pushTestStream({ url: h.rtmpUrl(key), clip, seconds: 30, signal: abort.signal })

    await h.waitEvent('job-die', 'restarted')
    const failed = await h.waitEvent('job-die', 'failed')
    expect(failed.reason).toMatch(/ffmpeg exited/)
    expect(h.events.filter((e) => e.jobId === 'job-die' && e.type === 'restarted')).toHaveLength(1)
    expect(hasEndList((await get(h.hlsUrl('die', '240p.m3u8'))).text)).toBe(true)
    abort.abort()
    await push.exited
  }, 60_000)

  it('never lets the stream key into a log line, the console or an HTTP response', () => {
    expect(logs.lines.some((l) => l.includes('transcoder starting'))).toBe(true)
    expect(bodies.length).toBeGreaterThan(10)
    for (const key of keys) {
      expect(logs.text()).not.toContain(key)
      expect(stdio.text()).not.toContain(key)
      for (const body of bodies) expect(body).not.toContain(key)
    }
  })
})

describe('classifyHealth', () => {
  it('is good at real time without drops, degraded when slipping, bad when far behind', () => {
    expect(classifyHealth(1.0, 0)).toBe('good')
    expect(classifyHealth(0.9, 0)).toBe('degraded')
    expect(classifyHealth(1.0, 0.02)).toBe('degraded')
    expect(classifyHealth(0.5, 0)).toBe('bad')
  })
})

describe('pipeline lifecycle without media', () => {
  it('retries a failed probe once, then fails without the key in any reason or log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relaycast-pipeline-'))
    const logs = captureLog()
    const events: PipelineEvent[] = []
    const key = 'SECRET_key_1234567890abcdef'
    const pipeline = createPipeline({
      streamId: 's',
      outputDir: join(dir, 's'),
      renditions: ['360p'],
      ffprobePath: join(dir, 'no-such-ffprobe'),
      log: logs.log,
      onEvent: (e) => events.push(e),
    })
    pipeline.attach({ id: 'session-1', pullUrl: `rtmp://127.0.0.1:9/live/${key}`, bytesIn: () => 0 })
    const end = await pipeline.finished
    expect(end.type).toBe('failed')
    expect(events.map((e) => e.type)).toEqual(['restarted', 'failed'])
    expect(pipeline.state).toBe('failed')
    expect(JSON.stringify(events) + logs.text()).not.toContain(key)
    // Over is over: a late publish does not start anything.
    pipeline.attach({ id: 'session-2', pullUrl: `rtmp://127.0.0.1:9/live/${key}`, bytesIn: () => 0 })
    expect(pipeline.state).toBe('failed')
    await rm(dir, { recursive: true, force: true })
  })

  it('stops cleanly before any publish', async () => {
    const events: PipelineEvent[] = []
    const pipeline = createPipeline({ streamId: 's', outputDir: join(tmpdir(), 'relaycast-never-created'), renditions: 'audio', onEvent: (e) => events.push(e) })
    await pipeline.stop()
    expect(events).toEqual([{ type: 'ended', reason: 'stopped' }])
    expect(await readdir(join(tmpdir(), 'relaycast-never-created')).catch(() => 'absent')).toBe('absent')
  })
})
