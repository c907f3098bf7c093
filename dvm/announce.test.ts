import { describe, expect, it } from 'vitest'
import { getDvmAnnouncement } from '../protocol/announce.ts'
import { getServiceMetrics } from '../protocol/metrics.ts'
import type { Rendition } from '../protocol/job.ts'
import { buildAnnouncement, buildTranscoderMetrics, ladderVariants, plannedVariants } from './announce.ts'
import { planLadder } from './ladder.ts'

const coordinate = { kind: 30311, pubkey: 'a'.repeat(64), identifier: 'show' }

describe('dvm announcements', () => {
  it('31990 reads back with k=5311, the ingest URL and the limits', () => {
    const a = getDvmAnnouncement(buildAnnouncement({ name: 'n', ingestUrl: 'rtmp://h/live', limits: { maxStreams: 1, maxRenditions: 4 } }))
    expect(a?.ingestUrl).toBe('rtmp://h/live')
    expect(a?.limits).toEqual({ maxStreams: 1, maxRenditions: 4 })
    expect(a?.renditions).toContain('720p')
  })

  it('31337 carries the pipeline figures and the viewer count', () => {
    const health = { bitrateKbps: 2500.4, fps: 30, width: 640, height: 360, droppedFrames: 2, speed: 1.01, health: 'good' as const, outTimeSeconds: 9 }
    const m = getServiceMetrics(buildTranscoderMetrics({ coordinate, status: 'live', health, hlsViewers: 3, now: 1000 }))
    expect(m?.service).toBe('transcoder')
    expect(m?.status).toBe('live')
    expect(m?.expiration).toBe(1060)
    expect(m?.figures).toMatchObject({ bitrateKbps: 2500, fps: 30, width: 640, height: 360, droppedFrames: 2, hlsViewers: 3 })
  })

  it('planned variants: one playlist per rendition under the base URL, no size before the input is seen', () => {
    const p = plannedVariants('http://x/hls/abc', ['720p', '360p'])
    expect(p.masterUrl).toBe('http://x/hls/abc/master.m3u8')
    expect(p.variants.map((v) => [v.name, v.url, v.width, v.height])).toEqual([['720p', 'http://x/hls/abc/720p.m3u8', undefined, undefined], ['360p', 'http://x/hls/abc/360p.m3u8', undefined, undefined]])
    expect(p.variants[0].bandwidth).toBeGreaterThan(p.variants[1].bandwidth)
    expect(plannedVariants('http://x', 'audio').variants.every((v) => v.width === undefined)).toBe(true)
  })

  it('ladder variants follow the probed input: 16:9, 4:3, portrait, and no rung above the input', () => {
    const probe = (width: number, height: number) => ({ hasVideo: true, hasAudio: true, width, height, fps: 30, videoCodec: 'h264', pixelFormat: 'yuv420p' })
    const sizes = (w: number, h: number, r: Rendition[]) => ladderVariants('http://x/hls/s', planLadder(r, probe(w, h))).map((v) => [v.name, `${v.width}x${v.height}`])
    expect(sizes(1920, 1080, ['720p', '480p', '360p'])).toEqual([['720p', '1280x720'], ['480p', '854x480'], ['360p', '640x360']])
    expect(sizes(640, 480, ['720p', '480p', '360p'])).toEqual([['480p', '640x480'], ['360p', '480x360']])
    expect(sizes(720, 1280, ['720p', '480p', '360p'])).toEqual([['720p', '720x1280'], ['480p', '480x854'], ['360p', '360x640']])
    const audio = ladderVariants('http://x/hls/s', planLadder('audio', probe(640, 480)))
    expect(audio.map((v) => [v.name, v.url, v.width])).toEqual([['audio', 'http://x/hls/s/audio.m3u8', undefined], ['audio-low', 'http://x/hls/s/audio-low.m3u8', undefined]])
  })
})
