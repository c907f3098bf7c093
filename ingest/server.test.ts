import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateStreamKey, hashStreamKey } from '../protocol/job.ts'
import { ffprobe } from '../test/media/ffprobe.ts'
import { captureConsole, captureLog } from '../test/media/log-capture.ts'
import { pullStream, pushTestStream } from '../test/media/push.ts'
import { nextCall } from '../test/media/wait.ts'
import { createKeyRegistry } from './auth.ts'
import { DEFAULT_CONFIG } from './config.ts'
import { createIngest, redactLibraryMessage } from './server.ts'
import type { Ingest, PublishSession, UnpublishReason } from './types.ts'

// Real node-media-server, real ffmpeg pushing like OBS. Small pictures: this is about admission.
const SMALL = { width: 320, height: 240, fps: 15, videoBitrateKbps: 300 }

describe('RTMP ingest', () => {
  let dir: string
  let ingest: Ingest
  const registry = createKeyRegistry()
  const logs = captureLog()
  const stdio = captureConsole()
  let onPublish: (s: PublishSession) => void = () => {}
  let onUnpublish: (s: PublishSession, r: UnpublishReason) => void = () => {}
  const published: string[] = []
  const released: string[] = []
  const keys: string[] = []
  const newKey = () => {
    const key = generateStreamKey()
    keys.push(key)
    return key
  }
  const url = (key: string, app = 'live') => `rtmp://127.0.0.1:${ingest.port}/${app}/${key}`

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaycast-ingest-'))
    ingest = await createIngest(
      { ...DEFAULT_CONFIG, host: '127.0.0.1', rtmpPort: 0, dataDir: dir, libraryLogLevel: 'debug' },
      {
        authorize: registry.authorize,
        release: (jobId) => {
          released.push(jobId)
          registry.release(jobId)
        },
        onPublish: (s) => {
          published.push(s.jobId)
          onPublish(s)
        },
        onUnpublish: (s, r) => onUnpublish(s, r),
      },
      { log: logs.log },
    )
  })

  afterAll(async () => {
    await ingest?.close()
    stdio.restore()
    await rm(dir, { recursive: true, force: true })
  })

  it('listens on a free port when asked for port 0', () => {
    expect(ingest.port).toBeGreaterThan(0)
  })

  it('leaves SIGINT and SIGTERM to its owner (the library would exit before ffmpeg and LMDB close)', () => {
    const own = (l: Function) => /flushSync/.test(l.toString())
    expect(process.listeners('SIGINT').filter(own)).toEqual([])
    expect(process.listeners('SIGTERM').filter(own)).toEqual([])
  })

  it('admits a registered key, reports the publish, and ends it as soon as the publisher leaves', async () => {
    const key = newKey()
    registry.put({ jobId: 'job-a', keyHash: hashStreamKey(key) })
    const started = nextCall<PublishSession>((s) => s.jobId === 'job-a')
    onPublish = started.fn
    const abort = new AbortController()
    const push = pushTestStream({ url: url(key), ...SMALL, signal: abort.signal })
    const session = await started.promise

    expect(ingest.sessions.get('job-a')).toBe(session)
    expect(registry.isPublishing('job-a')).toBe(true)
    // The pull URL carries the key, so it stays out of serialisation.
    expect(session.pullUrl).toContain(key)
    expect(JSON.stringify(session)).not.toContain(key)
    expect(Object.keys(session)).not.toContain('pullUrl')

    // The transcoder can pull it from this machine.
    const streams = await ffprobe(session.pullUrl)
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 320, height: 240 })
    expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac')
    expect(session.announcedMedia()).toMatchObject({ width: 320, height: 240, videoCodecId: 7, audioCodecId: 10 })
    expect(session.bytesIn()).toBeGreaterThan(0)

    // A puller (the transcoder) attached while the publisher is live.
    const pullAbort = new AbortController()
    const pull = pullStream(session.pullUrl, pullAbort.signal)
    await pull.flowing

    const ended = nextCall<[PublishSession, UnpublishReason]>(([s]) => s === session, 5_000)
    onUnpublish = (s, r) => ended.fn([s, r])
    const t0 = Date.now()
    abort.abort()
    const [, reason] = await ended.promise
    // Promptly, not after the library's 30 s donePublish.
    expect(Date.now() - t0).toBeLessThan(3_000)
    expect(reason).toBe('disconnected')
    // The puller is let go too (the library would keep it waiting for a publisher to return).
    const pulled = await Promise.race([pull.exited, new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 5_000))])
    pullAbort.abort()
    expect(pulled).not.toBe('stuck')
    await push.exited
    expect(ingest.sessions.has('job-a')).toBe(false)
    expect(released).toContain('job-a')
    expect(registry.isPublishing('job-a')).toBe(false)

    // With no publisher, a pull is let go at once instead of waiting for one.
    const late = pullStream(session.pullUrl)
    expect((await late.exited).code).not.toBe(0)
  })

  it('refuses an unknown key: the push fails and nothing is published', async () => {
    const key = newKey()
    const before = published.length
    const push = pushTestStream({ url: url(key), ...SMALL, seconds: 10 })
    const { code } = await push.exited
    expect(code).not.toBe(0)
    expect(published.length).toBe(before)
    const line = logs.lines.find((l) => l.includes('publish refused') && l.includes('unknown stream key'))
    expect(line).toBeDefined()
    // Logged with the session id and a hash prefix, never the key.
    expect(line).toContain(hashStreamKey(key).slice(0, 8))
    expect(line).not.toContain(key)
  })

  it('refuses a second publish for a job that is live, and keeps the first', async () => {
    const key = newKey()
    registry.put({ jobId: 'job-b', keyHash: hashStreamKey(key) })
    const started = nextCall<PublishSession>((s) => s.jobId === 'job-b')
    onPublish = started.fn
    const abort = new AbortController()
    const first = pushTestStream({ url: url(key), ...SMALL, signal: abort.signal })
    const session = await started.promise

    const second = pushTestStream({ url: url(key), ...SMALL, seconds: 10 })
    expect((await second.exited).code).not.toBe(0)
    expect(published.filter((j) => j === 'job-b')).toHaveLength(1)
    expect(ingest.sessions.get('job-b')).toBe(session)
    expect(logs.lines.some((l) => l.includes('publish refused') && l.includes('already being published'))).toBe(true)

    // Kicking the live publisher (job revoked) ends it with reason "kicked".
    const ended = nextCall<UnpublishReason>(() => true, 5_000)
    onUnpublish = (s, r) => s === session && ended.fn(r)
    expect(ingest.disconnect('job-b')).toBe(true)
    expect(await ended.promise).toBe('kicked')
    abort.abort()
    await first.exited
  })

  it('refuses a key whose job was removed (revoked)', async () => {
    const key = newKey()
    registry.put({ jobId: 'job-c', keyHash: hashStreamKey(key) })
    registry.remove('job-c')
    const before = published.length
    expect((await pushTestStream({ url: url(key), ...SMALL, seconds: 10 }).exited).code).not.toBe(0)
    expect(published.length).toBe(before)
  })

  it('refuses a valid key on another application', async () => {
    const key = newKey()
    registry.put({ jobId: 'job-d', keyHash: hashStreamKey(key) })
    const before = published.length
    expect((await pushTestStream({ url: url(key, 'other'), ...SMALL, seconds: 10 }).exited).code).not.toBe(0)
    expect(published.length).toBe(before)
    expect(registry.isPublishing('job-d')).toBe(false)
  })

  it('never writes a key to its log, the console, or its store on disk', async () => {
    expect(logs.lines.length).toBeGreaterThan(5)
    // The library's own (redacted) messages were forwarded, so the check covers them.
    expect(logs.lines.some((l) => l.includes('node-media-server:'))).toBe(true)
    const files = await readdir(dir, { recursive: true })
    let disk = ''
    for (const f of files) disk += await readFile(join(dir, f), 'utf8').catch(() => '')
    for (const key of keys) {
      expect(logs.text()).not.toContain(key)
      expect(stdio.text()).not.toContain(key)
      expect(disk).not.toContain(key)
    }
  })
})

describe('redactLibraryMessage', () => {
  it('masks stream names in paths and name= fields, and given secrets anywhere', () => {
    expect(redactLibraryMessage('RTMP session x 1.2.3.4:5 start push /live/abcDEF_12-3')).toBe('RTMP session x 1.2.3.4:5 start push /live/***')
    expect(redactLibraryMessage('invalid stream path characters: app=live, name=a.b')).toBe('invalid stream path characters: app=live, name=***')
    expect(redactLibraryMessage('streamPath=/live/k already has a publisher')).toBe('streamPath=/live/*** already has a publisher')
    expect(redactLibraryMessage('weird SECRETKEY here', ['SECRETKEY'])).toBe('weird *** here')
    expect(redactLibraryMessage('Store ready at /tmp/relaycast/ingest')).toBe('Store ready at /tmp/relaycast/ingest')
  })
})
