/**
 * What the default HLS ladder costs, measured on the real path: ffmpeg pushes over RTMP as OBS
 * would (a pre-encoded clip looped with -c copy, so the pusher costs next to nothing) → ingest →
 * pipeline (ffprobe + one ffmpeg ladder) → HLS files → origin.
 *
 * Run: npm run bench:media [-- --seconds 20] [-- --compare] [-- --repeats 3]
 *   --seconds N   measuring window per case after a 3 s warm-up (default 20)
 *   --compare     also measure the 1080p ladder at ultrafast and veryfast, to justify the preset
 *   --repeats N   extra connects of a 720p stream to time connect → playable (default 3)
 *
 * Figures per case: CPU-seconds of the transcoding ffmpeg per media-second (from
 * /proc/<pid>/stat: a 2-core box has 2.0 to give), realtime speed (media seconds written per
 * wall second, and ffmpeg's own figure), and the time from the RTMP connect (the pusher's TCP
 * connection accepted, timed by a pass-through proxy in front of the ingest) and from the publish
 * being admitted to the first playable master playlist (master + every variant has a segment;
 * then fetched through the origin).
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import type { Socket } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { generateStreamKey } from '../../protocol/job.ts'
import type { Rendition } from '../../protocol/job.ts'
import type { X264Preset } from '../../dvm/hls-args.ts'
import { DEFAULT_PRESET, DEFAULT_SEGMENT_SECONDS } from '../../dvm/hls-args.ts'
import { startMediaHarness } from '../media/harness.ts'
import type { MediaHarness } from '../media/harness.ts'
import { ensureTestClip, pushTestStream } from '../media/push.ts'

const argv = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const SECONDS = flag('seconds', 20)
const REPEATS = flag('repeats', 3)
const COMPARE = argv.includes('--compare')
const WARMUP_MS = 3_000
const LADDER: Rendition[] = ['720p', '480p', '360p']
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

interface Case {
  label: string
  width: number
  height: number
  preset: X264Preset
}

interface Result {
  label: string
  ladder: string
  cpuPerMediaSecond: number
  cores: number
  speed: number
  ffmpegSpeed: number
  connectToPlayableMs: number
  publishToPlayableMs: number
  pusherCpuPerSecond: number
  ingestCpuPerSecond: number
}

/**
 * A TCP pass-through in front of the ingest that notes when the pusher connects: "RTMP connect"
 * measured where it happens, not guessed from when the pusher was spawned.
 */
async function connectClock(targetPort: number): Promise<{ port: number; connectedAt(): number; close(): Promise<void> }> {
  let at = 0
  const sockets = new Set<Socket>()
  const server = createServer({ noDelay: true }, (inbound) => {
    at ||= Date.now()
    const outbound = createConnection({ host: '127.0.0.1', port: targetPort, noDelay: true })
    for (const s of [inbound, outbound]) {
      sockets.add(s)
      s.on('error', () => {
        inbound.destroy()
        outbound.destroy()
      })
      s.on('close', () => sockets.delete(s))
    }
    inbound.pipe(outbound).pipe(inbound)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    connectedAt: () => at,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

const rtmpVia = (port: number, key: string): string => `rtmp://127.0.0.1:${port}/live/${key}`

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS // utime, stime (fields 14 and 15)
}

/** The transcoding ffmpeg: our child writing HLS into this stream's directory. */
function findTranscoder(streamDir: string): number {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid !== process.pid) continue
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0')
      if (cmd.includes('hls') && cmd.some((a) => a.startsWith(streamDir))) return Number(name)
    } catch {
      continue // the process ended while we looked
    }
  }
  throw new Error(`no transcoder process writes to ${streamDir}`)
}

async function measure(h: MediaHarness, c: Case, index: number): Promise<Result> {
  const clip = await ensureTestClip({ width: c.width, height: c.height, fps: 30, keyframeSeconds: DEFAULT_SEGMENT_SECONDS })
  const key = generateStreamKey()
  const jobId = `bench-${index}`
  const streamId = `bench-${index}`
  const pipeline = h.addJob(jobId, key, { renditions: LADDER, preset: c.preset, streamId })
  const abort = new AbortController()
  const clock = await connectClock(h.ingest.port)
  const push = pushTestStream({ url: rtmpVia(clock.port, key), clip, signal: abort.signal })
  try {
    const live = await h.waitEvent(jobId, 'live', undefined, 60_000)
    const publishAt = h.publishes.find((p) => p.jobId === jobId)!.at
    const master = await fetch(h.hlsUrl(streamId))
    if (master.status !== 200) throw new Error(`master playlist answered ${master.status}`)
    const ladder = live.variants.map((v) => (v.kind === 'video' && v.copy ? `${v.name}(copy)` : v.name)).join(' ')

    await new Promise((r) => setTimeout(r, WARMUP_MS))
    const pid = findTranscoder(`${h.hlsRoot}/${streamId}`)
    const cpu0 = cpuSeconds(pid)
    const push0 = push.pid ? cpuSeconds(push.pid) : 0
    const self0 = process.cpuUsage()
    const media0 = pipeline.health()?.outTimeSeconds ?? 0
    const wall0 = performance.now()
    await new Promise((r) => setTimeout(r, SECONDS * 1000))
    const cpu = cpuSeconds(pid) - cpu0
    const wall = (performance.now() - wall0) / 1000
    const pusher = push.pid ? cpuSeconds(push.pid) - push0 : 0
    const self = process.cpuUsage(self0)
    const health = pipeline.health()
    const media = (health?.outTimeSeconds ?? 0) - media0
    if (media <= 0) throw new Error('no media was written while measuring')
    return {
      label: c.label,
      ladder,
      cpuPerMediaSecond: cpu / media,
      cores: cpu / wall,
      speed: media / wall,
      ffmpegSpeed: health?.speed ?? 0,
      connectToPlayableMs: live.at - clock.connectedAt(),
      publishToPlayableMs: live.at - publishAt,
      pusherCpuPerSecond: pusher / wall,
      ingestCpuPerSecond: (self.user + self.system) / 1e6 / wall,
    }
  } finally {
    await pipeline.stop()
    abort.abort()
    await push.exited
    await clock.close()
  }
}

async function connectTimes(h: MediaHarness, n: number): Promise<number[]> {
  const clip = await ensureTestClip({ width: 1280, height: 720, fps: 30, keyframeSeconds: DEFAULT_SEGMENT_SECONDS })
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const key = generateStreamKey()
    const jobId = `connect-${i}`
    const pipeline = h.addJob(jobId, key, { renditions: LADDER, streamId: jobId })
    const abort = new AbortController()
    const clock = await connectClock(h.ingest.port)
    const push = pushTestStream({ url: rtmpVia(clock.port, key), clip, signal: abort.signal })
    const live = await h.waitEvent(jobId, 'live', undefined, 60_000)
    times.push(live.at - clock.connectedAt())
    await pipeline.stop()
    abort.abort()
    await push.exited
    await clock.close()
  }
  return times
}

const fmt = (n: number, d = 2): string => n.toFixed(d)

async function main(): Promise<void> {
  console.log(`media bench: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log(`ladder ${LADDER.join('/')}, ${DEFAULT_SEGMENT_SECONDS} s segments, ${SECONDS} s measured per case after ${WARMUP_MS / 1000} s warm-up\n`)
  const cases: Case[] = [
    { label: `1080p30 in, ${DEFAULT_PRESET}`, width: 1920, height: 1080, preset: DEFAULT_PRESET },
    { label: `720p30 in, ${DEFAULT_PRESET}`, width: 1280, height: 720, preset: DEFAULT_PRESET },
  ]
  if (COMPARE) {
    for (const preset of ['ultrafast', 'veryfast'] as const) cases.push({ label: `1080p30 in, ${preset}`, width: 1920, height: 1080, preset })
  }
  const loadStart = loadavg()[0]
  const h = await startMediaHarness()
  try {
    const results: Result[] = []
    for (const [i, c] of cases.entries()) {
      const r = await measure(h, c, i)
      results.push(r)
      console.log(
        `${r.label.padEnd(24)} ${r.ladder.padEnd(22)} ${fmt(r.cpuPerMediaSecond)} CPU-s/media-s  ${fmt(r.cores)} cores  ` +
          `speed ${fmt(r.speed)}x (ffmpeg ${fmt(r.ffmpegSpeed)}x)  RTMP connect→playable master ${r.connectToPlayableMs} ms ` +
          `(publish→playable ${r.publishToPlayableMs} ms)  [pusher ${fmt(r.pusherCpuPerSecond)} cores, node/ingest ${fmt(r.ingestCpuPerSecond)} cores]`,
      )
    }
    if (REPEATS > 0) {
      const times = await connectTimes(h, REPEATS)
      const sorted = [...times].sort((a, b) => a - b)
      console.log(`\nRTMP connect → first playable master playlist (720p30 in, ${REPEATS} connects): ${times.join(', ')} ms; median ${sorted[Math.floor(sorted.length / 2)]} ms`)
    }
    console.log(`\nload average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    if (Math.max(loadStart, loadavg()[0]) > cpus().length) {
      console.log('note: the box was busier than its core count: speed and connect times reflect that contention; CPU-s per media-s (work done, not time waited) is the figure to compare')
    }
  } finally {
    await h.close()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
