import { describe, expect, it } from 'vitest'
import { getDvmAnnouncement } from '../protocol/announce.ts'
import { getServiceMetrics } from '../protocol/metrics.ts'
import { buildAnnouncement, buildTranscoderMetrics, plannedVariants } from './announce.ts'

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

  it('planned variants: one playlist per rendition under the base URL', () => {
    const p = plannedVariants('http://x/hls/abc', ['720p', '360p'])
    expect(p.masterUrl).toBe('http://x/hls/abc/master.m3u8')
    expect(p.variants.map((v) => [v.name, v.url, v.height])).toEqual([['720p', 'http://x/hls/abc/720p.m3u8', 720], ['360p', 'http://x/hls/abc/360p.m3u8', 360]])
    expect(plannedVariants('http://x', 'audio').variants.every((v) => v.width === undefined)).toBe(true)
  })
})
