import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ffprobe } from '../test/media/ffprobe.ts'
import { captureLog } from '../test/media/log-capture.ts'
import { recordingOutputArgs } from './hls-args.ts'
import { buildJoinArgs, choosePartsToJoin, finishRecording, nextPartPath } from './recording.ts'
import type { PartInfo } from './recording.ts'

const run = promisify(execFile)

/** A part as the transcoder writes it: a live-like FLV stream copied into fragmented MP4. */
async function makePart(path: string, o: { width: number; height: number; seconds: number }): Promise<void> {
  const probe = { hasVideo: true, hasAudio: true, width: o.width, height: o.height, fps: 15 }
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=15`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(o.seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-c:a', 'aac', '-f', 'flv', `${path}.flv`,
  ]
  await run('ffmpeg', args)
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', `${path}.flv`, ...recordingOutputArgs(probe, false, path)])
  await rm(`${path}.flv`)
}

describe('recording parts → one MP4', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaycast-recording-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('numbers parts after those already there', async () => {
    const d = join(dir, 'numbering')
    expect(await nextPartPath(d)).toBe(join(d, 'part-000.mp4'))
    await run('mkdir', ['-p', d])
    await writeFile(join(d, 'part-000.mp4'), '')
    await writeFile(join(d, 'part-007.mp4'), '')
    await writeFile(join(d, 'notes.txt'), '')
    expect(await nextPartPath(d)).toBe(join(d, 'part-008.mp4'))
  })

  it('joins parts with media and the first part\'s shape, skipping empty and changed ones', () => {
    const part = (name: string, duration: number, signature = 'v:h264:640x360,a:aac:48000:2'): PartInfo => ({ name, duration, hasVideo: true, signature })
    const { joined, dropped } = choosePartsToJoin([part('part-000.mp4', 0), part('part-001.mp4', 4), part('part-002.mp4', 3, 'v:h264:1280x720,a:aac:48000:2'), part('part-003.mp4', 2)])
    expect(joined.map((p) => p.name)).toEqual(['part-001.mp4', 'part-003.mp4'])
    expect(dropped.map((p) => p.name)).toEqual(['part-002.mp4'])
    expect(choosePartsToJoin([part('part-000.mp4', 0)]).joined).toEqual([])
  })

  it('the join argv copies every stream (no re-encode) and puts the index first', () => {
    const args = buildJoinArgs('/r/parts.txt', '/r/recording.mp4')
    expect(args).toEqual(expect.arrayContaining(['-f', 'concat', '-c', 'copy', '+faststart']))
    expect(args.at(-1)).toBe('/r/recording.mp4')
    expect(args).not.toContain('-safe') // the list holds relative names only
  })

  it('joins two real parts (the reconnect gap left out), skips an empty and a resized one', async () => {
    const d = join(dir, 'real')
    await run('mkdir', ['-p', d])
    await makePart(join(d, 'part-000.mp4'), { width: 320, height: 240, seconds: 2 })
    await writeFile(join(d, 'part-001.mp4'), '') // ffmpeg killed before any media
    await makePart(join(d, 'part-002.mp4'), { width: 320, height: 240, seconds: 3 })
    await makePart(join(d, 'part-003.mp4'), { width: 160, height: 120, seconds: 1 })
    const logs = captureLog()
    const done = await finishRecording(d, { log: logs.log })
    expect(done).toMatchObject({ path: join(d, 'recording.mp4'), mimeType: 'video/mp4', parts: 2 })
    expect(done!.durationSeconds).toBeGreaterThan(4.5)
    expect(done!.durationSeconds).toBeLessThan(5.5)
    const streams = await ffprobe(done!.path)
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 320, height: 240 })
    expect(streams.some((s) => s.codec_type === 'audio')).toBe(true)
    expect(logs.text()).toContain('part-003.mp4')
  }, 60_000)

  it('nothing recorded: no recording', async () => {
    const d = join(dir, 'empty')
    await run('mkdir', ['-p', d])
    await writeFile(join(d, 'part-000.mp4'), '')
    expect(await finishRecording(d)).toBeUndefined()
    expect(await finishRecording(join(dir, 'never-made'))).toBeUndefined()
  })
})
