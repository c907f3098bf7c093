import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createProgressParser, parseProgressBlock, parseRate, probeStream, ProbeError, redact, runFfmpeg, toMediaProbe } from './ffmpeg.ts'
import type { FfmpegProgress } from './ffmpeg.ts'

const BLOCK = ['frame=382', 'fps=29.97', 'stream_0_1_q=21.0', 'bitrate=N/A', 'total_size=N/A', 'out_time_us=12733333', 'out_time_ms=12733333', 'out_time=00:00:12.733333', 'dup_frames=1', 'drop_frames=2', 'speed=1.12x', 'progress=continue', '']

describe('ffmpeg -progress parsing', () => {
  it('reads the figures of a block', () => {
    const seen: FfmpegProgress[] = []
    createProgressParser((p) => seen.push(p))(BLOCK.join('\n'))
    expect(seen).toEqual([{ frame: 382, fps: 29.97, outTimeSeconds: 12.733333, dupFrames: 1, dropFrames: 2, speed: 1.12, end: false }])
    expect(parseProgressBlock({ bitrate: '2500.5kbits/s', out_time: '01:02:03.5', progress: 'end' })).toMatchObject({ bitrateKbps: 2500.5, outTimeSeconds: 3723.5, end: true, speed: 0 })
  })

  it('gives the same blocks however the output is chunked', () => {
    const text = [...BLOCK.slice(0, -1), ...BLOCK.slice(0, -2), 'progress=end', ''].join('\n')
    const whole: FfmpegProgress[] = []
    createProgressParser((p) => whole.push(p))(text)
    expect(whole).toHaveLength(2)
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 30 }), (cuts) => {
        const seen: FfmpegProgress[] = []
        const feed = createProgressParser((p) => seen.push(p))
        let from = 0
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          feed(text.slice(from, cut))
          from = cut
        }
        feed(text.slice(from))
        expect(seen).toEqual(whole)
      }),
      { numRuns: 1000 },
    )
  })

  it('never throws on nonsense', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string()), (fields) => {
        const p = parseProgressBlock(fields)
        for (const v of [p.frame, p.fps, p.outTimeSeconds, p.dupFrames, p.dropFrames, p.speed]) expect(Number.isFinite(v)).toBe(true)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('probe helpers', () => {
  it('reads frame rates', () => {
    expect(parseRate('30/1')).toBe(30)
    expect(parseRate('30000/1001')).toBeCloseTo(29.97, 2)
    expect(parseRate('0/0')).toBe(0)
    expect(parseRate('x')).toBe(0)
  })

  it('maps ffprobe streams to what the ladder needs', () => {
    expect(toMediaProbe([{ codec_type: 'audio', codec_name: 'aac' }, { codec_type: 'video', codec_name: 'h264', width: 1280, height: 720, pix_fmt: 'yuv420p', avg_frame_rate: '0/0', r_frame_rate: '30/1' }])).toEqual({
      hasVideo: true, hasAudio: true, width: 1280, height: 720, fps: 30, videoCodec: 'h264', pixelFormat: 'yuv420p', audioCodec: 'aac',
    })
    expect(toMediaProbe([{ codec_type: 'audio', codec_name: 'opus' }])).toMatchObject({ hasVideo: false, hasAudio: true, width: 0 })
  })

  it('masks secrets and their URL-encoded form', () => {
    expect(redact('rtmp://h/live/s3cr3t+key: error; s3cr3t%2Bkey', ['s3cr3t+key'])).toBe('rtmp://h/live/***: error; ***')
  })
})

describe('running ffmpeg', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaycast-ffmpeg-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reports progress, and an abort stops it cleanly (trailer written) and promptly', async () => {
    const out = join(dir, 'out.ts')
    const abort = new AbortController()
    const progress: FfmpegProgress[] = []
    const ff = runFfmpeg({
      args: ['-hide_banner', '-nostdin', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mpegts', out],
      signal: abort.signal,
      onProgress: (p) => {
        progress.push(p)
        if (p.frame >= 5) abort.abort()
      },
    })
    const t0 = Date.now()
    const exit = await ff.exited
    expect(exit.aborted).toBe(true)
    expect(exit.signal).toBeNull() // it exited by itself after SIGTERM, not killed
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(progress.some((p) => p.frame >= 5 && p.fps >= 0)).toBe(true)
    const streams = await probeStream(out)
    expect(streams).toMatchObject({ hasVideo: true, width: 160, height: 120, videoCodec: 'h264' })
  })

  it('never reports a secret from its arguments in stderr or errors', async () => {
    const secret = 'KEY_abcdefghijklmnop'
    const lines: string[] = []
    const exit = await runFfmpeg({ args: ['-hide_banner', '-i', join(dir, `${secret}.flv`)], secrets: [secret], onStderrLine: (l) => lines.push(l) }).exited
    expect(exit.code).not.toBe(0)
    expect(lines.join('\n')).toContain('***')
    expect(JSON.stringify(exit) + lines.join('\n')).not.toContain(secret)
    const err = await probeStream(join(dir, `${secret}.flv`), { timeoutMs: 5_000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProbeError)
    expect((err as Error).message).not.toContain(secret)
  })

  it('reports a binary that cannot start, and a probe that is aborted', async () => {
    const exit = await runFfmpeg({ args: [], binary: join(dir, 'no-such-ffmpeg') }).exited
    expect(exit.spawnError).toMatch(/ENOENT/)
    const abort = new AbortController()
    abort.abort()
    await expect(probeStream('rtmp://127.0.0.1:9/live/x', { signal: abort.signal })).rejects.toThrow(/aborted/)
  })
})
