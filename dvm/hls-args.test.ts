import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RENDITIONS } from '../protocol/job.ts'
import type { Rendition } from '../protocol/job.ts'
import { X264_PRESETS, buildHlsArgs, planHls } from './hls-args.ts'
import type { HlsArgsInput } from './hls-args.ts'
import { VIDEO_RUNGS } from './ladder.ts'
import type { MediaProbe } from './ladder.ts'

const KEY = 'k3Y_secret-ABCDEFGHIJKLMNOPQRSTUV'
const base = (probe: Partial<MediaProbe>, extra: Partial<HlsArgsInput> = {}): HlsArgsInput => ({
  input: `rtmp://127.0.0.1:1935/live/${KEY}`,
  outputDir: '/var/hls/stream1',
  renditions: ['720p', '480p', '360p'],
  probe: { hasVideo: true, hasAudio: true, width: 1920, height: 1080, fps: 30, videoCodec: 'h264', pixelFormat: 'yuv420p', audioCodec: 'aac', ...probe },
  ...extra,
})

const value = (args: string[], flag: string): string | undefined => {
  const i = args.indexOf(flag)
  return i >= 0 ? args[i + 1] : undefined
}
const streamMap = (args: string[]): string[] => (value(args, '-var_stream_map') ?? '').split(' ').filter(Boolean)
/** Every scale=WxH in the filter graph: read from the argv itself, not from the planner. */
const scales = (args: string[]): Array<[number, number]> =>
  [...(value(args, '-filter_complex') ?? '').matchAll(/scale=(\d+):(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])])

describe('buildHlsArgs examples', () => {
  it('1080p30 H.264 → 720/480/360, all encoded, one process, 1 s aligned GOPs', () => {
    const args = buildHlsArgs(base({}))
    expect(scales(args)).toEqual([[1280, 720], [854, 480], [640, 360]])
    expect(streamMap(args)).toEqual(['v:0,a:0,name:720p', 'v:1,a:1,name:480p', 'v:2,a:2,name:360p'])
    for (const i of [0, 1, 2]) {
      expect(value(args, `-c:v:${i}`)).toBe('libx264')
      expect(value(args, `-g:v:${i}`)).toBe('30')
      expect(value(args, `-keyint_min:v:${i}`)).toBe('30')
      expect(value(args, `-sc_threshold:v:${i}`)).toBe('0')
      expect(value(args, `-force_key_frames:v:${i}`)).toBe('expr:gte(t,n_forced*1)')
      expect(value(args, `-preset:v:${i}`)).toBe('superfast')
      expect(value(args, `-bf:v:${i}`)).toBe('0')
    }
    expect(value(args, '-b:v:0')).toBe('2800k')
    expect(value(args, '-b:v:1')).toBe('1200k')
    expect(value(args, '-b:v:2')).toBe('700k')
    expect(value(args, '-hls_time')).toBe('1')
    expect(value(args, '-master_pl_name')).toBe('master.m3u8')
    expect(value(args, '-hls_segment_filename')).toBe('/var/hls/stream1/%v-%d.ts')
    expect(value(args, '-progress')).toBe('pipe:1')
    expect(value(args, '-hls_flags')?.split('+')).toEqual(expect.arrayContaining(['independent_segments', 'omit_endlist', 'temp_file']))
    expect(value(args, '-hls_flags')).not.toContain('append_list')
    expect(args.at(-1)).toBe('/var/hls/stream1/%v.m3u8')
    expect(args.filter((a) => a === '-i')).toHaveLength(1)
  })

  it('passes the top rung through when the input is already 720p H.264, and aligns the others to its keyframes', () => {
    const args = buildHlsArgs(base({ width: 1280, height: 720 }))
    expect(value(args, '-c:v:0')).toBe('copy')
    expect(args).toContain('0:v:0')
    expect(scales(args)).toEqual([[854, 480], [640, 360]])
    expect(value(args, '-force_key_frames:v:1')).toBe('source')
    expect(value(args, '-force_key_frames:v:2')).toBe('source')
  })

  it('encodes the top rung when the input matches it but is not H.264 4:2:0', () => {
    expect(scales(buildHlsArgs(base({ width: 1280, height: 720, videoCodec: 'hevc' })))[0]).toEqual([1280, 720])
    expect(scales(buildHlsArgs(base({ width: 1280, height: 720, pixelFormat: 'yuv444p' })))[0]).toEqual([1280, 720])
    expect(value(buildHlsArgs(base({ width: 1280, height: 720 }, { passthrough: false })), '-c:v:0')).toBe('libx264')
  })

  it('never upscales: a 480p input makes 480 (copied) and 360 only', () => {
    const args = buildHlsArgs(base({ width: 854, height: 480 }))
    expect(streamMap(args)).toEqual(['v:0,a:0,name:480p', 'v:1,a:1,name:360p'])
    expect(scales(args)).toEqual([[640, 360]])
  })

  it('keeps portrait pictures portrait (a rung names the short side)', () => {
    expect(scales(buildHlsArgs(base({ width: 1080, height: 1920 })))).toEqual([[720, 1280], [480, 854], [360, 640]])
  })

  it('an input smaller than every requested rung becomes the single rung', () => {
    const plan = planHls(base({ width: 426, height: 240 }))
    expect(plan.variants).toMatchObject([{ name: '240p', width: 426, height: 240, copy: true }])
    expect(streamMap(plan.args)).toEqual(['v:0,a:0,name:240p'])
  })

  it('an audio job makes audio renditions only, even from a video input', () => {
    const args = buildHlsArgs(base({}, { renditions: 'audio' }))
    expect(args).not.toContain('-filter_complex')
    expect(args.some((a) => a.startsWith('-c:v'))).toBe(false)
    expect(streamMap(args)).toEqual(['a:0,name:audio', 'a:1,name:audio-low'])
    expect(value(args, '-b:a:0')).toBe('128k')
    expect(value(args, '-b:a:1')).toBe('64k')
  })

  it('a video without sound makes video-only variants', () => {
    const args = buildHlsArgs(base({ hasAudio: false }))
    expect(streamMap(args)).toEqual(['v:0,name:720p', 'v:1,name:480p', 'v:2,name:360p'])
    expect(args.some((a) => a.startsWith('-c:a'))).toBe(false)
  })

  it('resume continues the playlists (append_list) and 60 fps gets 2 s of frames per 2 s segment', () => {
    const args = buildHlsArgs(base({ fps: 60 }, { resume: true, segmentSeconds: 2 }))
    expect(value(args, '-hls_flags')).toContain('append_list')
    expect(value(args, '-g:v:0')).toBe('120')
    expect(value(args, '-b:v:0')).toBe('4200k')
  })

  it('brings frame rates above 60 down in the filter graph', () => {
    expect(value(buildHlsArgs(base({ fps: 120 })), '-filter_complex')).toContain('fps=60')
  })

  it('a recording job adds a second output: the input copied, untouched, as fragmented MP4', () => {
    const args = buildHlsArgs(base({}, { recordPath: '/var/rec/s1/part-000.mp4' }))
    const hls = args.indexOf('/var/hls/stream1/%v.m3u8')
    expect(hls).toBeGreaterThan(0)
    const rec = args.slice(hls + 1)
    expect(rec).toEqual(['-map', '0:v:0', '-map', '0:a:0', '-c', 'copy', '-max_muxing_queue_size', '1024', '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '/var/rec/s1/part-000.mp4'])
    // Still one input, one decode, and the ladder itself unchanged.
    expect(args.filter((x) => x === '-i')).toHaveLength(1)
    expect(args.slice(0, hls + 1)).toEqual(buildHlsArgs(base({})))
  })

  it('an audio job records the sound only; a silent video records the picture only', () => {
    const audio = buildHlsArgs(base({}, { renditions: 'audio', recordPath: '/r.mp4' }))
    expect(audio.slice(audio.indexOf('/var/hls/stream1/%v.m3u8') + 1, -1)).not.toContain('0:v:0')
    expect(audio.at(-1)).toBe('/r.mp4')
    const silent = buildHlsArgs(base({ hasAudio: false }, { recordPath: '/r.mp4' }))
    const tail = silent.slice(silent.indexOf('/var/hls/stream1/%v.m3u8') + 1)
    expect(tail.filter((x) => x === '-map')).toHaveLength(1)
    expect(tail).toContain('0:v:0')
  })

  it('refuses an input with nothing to transcode', () => {
    expect(() => buildHlsArgs(base({ hasVideo: false, hasAudio: false }))).toThrow(RangeError)
    expect(() => buildHlsArgs(base({ hasAudio: false }, { renditions: 'audio' }))).toThrow(/no sound/)
  })
})

// ---- properties ----

const arbProbe: fc.Arbitrary<MediaProbe> = fc.record({
  hasVideo: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  hasAudio: fc.boolean(),
  width: fc.integer({ min: 16, max: 4096 }),
  height: fc.integer({ min: 16, max: 4096 }),
  fps: fc.constantFrom(0, 15, 24, 25, 29.97, 30, 50, 59.94, 60, 120),
  videoCodec: fc.constantFrom('h264', 'hevc', 'vp6f', 'av1'),
  pixelFormat: fc.constantFrom('yuv420p', 'yuvj420p', 'yuv422p', 'yuv444p'),
  audioCodec: fc.constantFrom('aac', 'mp3', 'opus'),
})
const arbRenditions: fc.Arbitrary<Rendition[] | 'audio'> = fc.oneof(
  { weight: 5, arbitrary: fc.subarray([...RENDITIONS], { minLength: 1 }) },
  { weight: 1, arbitrary: fc.constant('audio' as const) },
)
const arbKey = fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/)
const arbDir = fc.stringMatching(/^(\/[a-z0-9 ._-]{1,12}){1,4}$/)
const arbInput = fc
  .record({
    key: arbKey,
    outputDir: arbDir,
    renditions: arbRenditions,
    probe: arbProbe,
    segmentSeconds: fc.constantFrom(0.5, 1, 2, 4),
    preset: fc.constantFrom(...X264_PRESETS),
    passthrough: fc.boolean(),
    resume: fc.boolean(),
    listSize: fc.integer({ min: 3, max: 30 }),
  })
  // Inputs with nothing the job can use are refused (tested above), not planned.
  .filter(({ probe, renditions }) => probe.hasAudio || (probe.hasVideo && renditions !== 'audio'))
  .map(({ key, ...rest }) => ({ ...rest, input: `rtmp://127.0.0.1:1935/live/${key}` }) satisfies HlsArgsInput)

const RUNS = { numRuns: 1000 }
const STREAM_MAP = /^((v:\d+,)?(a:\d+,)?name:[A-Za-z0-9_-]+)( (v:\d+,)?(a:\d+,)?name:[A-Za-z0-9_-]+)*$/
const videoJob = (i: HlsArgsInput): boolean => i.renditions !== 'audio' && i.probe.hasVideo

describe('buildHlsArgs invariants', () => {
  it('one variant playlist per planned rendition, and the stream map has exactly that many entries', () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const { args, variants } = planHls(input)
        const entries = streamMap(args)
        expect(entries).toHaveLength(variants.length)
        const names = entries.map((e) => /name:([A-Za-z0-9_-]+)$/.exec(e)?.[1])
        expect(new Set(names).size).toBe(names.length)
        expect(names).toEqual(variants.map((v) => v.name))
        // One output pattern, expanded per variant; one master.
        expect(args.filter((a) => a.endsWith('%v.m3u8'))).toHaveLength(1)
        expect(args.filter((a) => a === '-master_pl_name')).toHaveLength(1)
        // Independent count: requested rungs that fit, or the input's own size when none does.
        if (videoJob(input)) {
          const short = Math.min(input.probe.width, input.probe.height)
          const fit = (input.renditions as Rendition[]).filter((r) => VIDEO_RUNGS[r].size <= short).length
          expect(entries).toHaveLength(Math.max(1, fit))
          expect(entries.every((e) => /^v:\d+,/.test(e))).toBe(true)
        } else {
          expect(entries.every((e) => /^a:\d+,name:/.test(e))).toBe(true)
        }
      }),
      RUNS,
    )
  })

  it('no rendition is larger than the input, on either side', () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const { args, variants } = planHls(input)
        for (const [w, h] of scales(args)) {
          expect(w).toBeLessThanOrEqual(input.probe.width)
          expect(h).toBeLessThanOrEqual(input.probe.height)
          expect(w % 2 + (h % 2)).toBe(0)
        }
        for (const v of variants) {
          if (v.kind !== 'video') continue
          expect(v.width).toBeLessThanOrEqual(input.probe.width)
          expect(v.height).toBeLessThanOrEqual(input.probe.height)
          if (!v.copy) expect(v.width % 2 + (v.height % 2)).toBe(0)
        }
        // Only an H.264 input is ever copied, and only to its own size.
        if (args.includes('copy')) {
          expect(input.probe.videoCodec).toBe('h264')
          expect(input.passthrough).toBe(true)
        }
      }),
      RUNS,
    )
  })

  it('is never a shell string: plain strings, the input one whole element, no element carrying another flag', () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const args = buildHlsArgs(input)
        expect(args.every((a) => typeof a === 'string')).toBe(true)
        expect(args[0]).not.toMatch(/ffmpeg|^(ba)?sh$/)
        expect(args.filter((a) => a === input.input)).toHaveLength(1)
        expect(args[args.indexOf(input.input) - 1]).toBe('-i')
        const key = input.input.slice(input.input.lastIndexOf('/') + 1)
        expect(args.filter((a) => a.includes(key))).toHaveLength(1)
        const outputPrefix = join(input.outputDir, '/')
        const glued = args.filter((a) => {
          if (a === input.input || a.startsWith(outputPrefix)) return false
          // Flags are their own elements: nothing like "x -c:v libx264" glued together, no shell
          // syntax, and whitespace only inside the stream map.
          if (/\s-[A-Za-z]/.test(a) || /[|&`$<>;\n]/.test(a.replace(/^\[0:v:0\].*$/, ''))) return true
          return /\s/.test(a) && !STREAM_MAP.test(a)
        })
        expect(glued).toEqual([])
      }),
      RUNS,
    )
  })

  it('encoded GOPs are aligned: the same forced keyframes, no scene cuts, on every encoded rung', () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const args = buildHlsArgs(input)
        const encoded = args.filter((a, i) => /^-c:v:\d+$/.test(a) && args[i + 1] === 'libx264').map((a) => a.slice('-c:v:'.length))
        const copied = args.some((a, i) => /^-c:v:\d+$/.test(a) && args[i + 1] === 'copy')
        const forced = new Set(encoded.map((i) => value(args, `-force_key_frames:v:${i}`)))
        const gops = new Set(encoded.map((i) => value(args, `-g:v:${i}`)))
        if (encoded.length > 0) {
          expect(forced.size).toBe(1)
          expect(gops.size).toBe(1)
          expect([...forced][0]).toBe(copied ? 'source' : `expr:gte(t,n_forced*${input.segmentSeconds})`)
          for (const i of encoded) expect(value(args, `-sc_threshold:v:${i}`)).toBe('0')
        }
        if (!copied && encoded.length > 0) {
          const fps = Math.min(input.probe.fps > 0 ? input.probe.fps : 30, 60)
          expect([...gops][0]).toBe(String(Math.max(1, Math.round(fps * input.segmentSeconds!))))
        }
        expect(value(args, '-hls_time')).toBe(String(input.segmentSeconds))
        expect(value(args, '-hls_flags')!.includes('append_list')).toBe(input.resume === true)
      }),
      RUNS,
    )
  })
})
