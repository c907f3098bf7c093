import { execFile } from 'node:child_process'
import { readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Log } from '../ingest/types.ts'
import { runFfmpeg } from './ffmpeg.ts'

/**
 * Recording: while a job with `record=true` runs, its ffmpeg writes a second output, the input
 * copied as fragmented MP4, one part per run (`part-000.mp4`, `part-001.mp4`, … — a reconnect
 * within the grace period or a restart starts a new part). When the stream is over the parts are
 * joined, without re-encoding, into one MP4 with its index at the front (players can seek
 * before it is all downloaded); the reconnect gaps are left out. The result goes to the Blossom
 * store (blossom.ts). Parts that hold no media are skipped; a part whose codecs or picture size
 * differ from the first one's (OBS settings changed during a reconnect) cannot share an MP4
 * track with it, so it is left out and logged.
 */

export const PART_PATTERN = /^part-(\d{3,})\.mp4$/

/** The part a run writes: numbered after the parts already there. */
export async function nextPartPath(dir: string): Promise<string> {
  const names = await readdir(dir).catch(() => [] as string[])
  const used = names.map((n) => PART_PATTERN.exec(n)).filter((m) => m !== null).map((m) => Number(m[1]))
  const next = used.length === 0 ? 0 : Math.max(...used) + 1
  return join(dir, `part-${String(next).padStart(3, '0')}.mp4`)
}

export interface PartInfo {
  name: string
  /** Seconds of media; 0 when it has none. */
  duration: number
  hasVideo: boolean
  /** codecs and picture size: parts are joined only when these are equal. */
  signature: string
}

export interface RecordingOptions {
  ffmpegPath?: string
  ffprobePath?: string
  signal?: AbortSignal
  log?: Log
}

export interface FinishedRecording {
  /** The joined MP4 (inside the parts directory). */
  path: string
  mimeType: 'video/mp4' | 'audio/mp4'
  durationSeconds: number
  parts: number
}

/** The ffmpeg argv that joins parts listed in a concat file into one MP4. Pure. */
export function buildJoinArgs(listFile: string, output: string): string[] {
  return ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'concat', '-i', listFile, '-map', '0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', output]
}

/** Which parts go into the recording: those with media and the first such part's signature. */
export function choosePartsToJoin(parts: readonly PartInfo[]): { joined: PartInfo[]; dropped: PartInfo[] } {
  const withMedia = parts.filter((p) => p.duration > 0)
  const first = withMedia[0]
  if (!first) return { joined: [], dropped: [] }
  return { joined: withMedia.filter((p) => p.signature === first.signature), dropped: withMedia.filter((p) => p.signature !== first.signature) }
}

/** Joins the parts in `dir` into `<dir>/recording.mp4`; undefined when nothing was recorded. */
export async function finishRecording(dir: string, options: RecordingOptions = {}): Promise<FinishedRecording | undefined> {
  const log: Log = options.log ?? (() => {})
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => PART_PATTERN.test(n)).sort()
  const parts: PartInfo[] = []
  for (const name of names) parts.push(await probePart(join(dir, name), name, options))
  const { joined, dropped } = choosePartsToJoin(parts)
  for (const p of dropped) log('warn', 'recording part left out: the stream changed codecs or size', { part: p.name, seconds: Math.round(p.duration) })
  if (joined.length === 0) return undefined
  // Relative names in the list: the concat demuxer's safe mode accepts them and nothing else.
  const list = join(dir, 'parts.txt')
  await writeFile(list, joined.map((p) => `file '${p.name}'\n`).join(''))
  const output = join(dir, 'recording.mp4')
  const exit = await runFfmpeg({ args: buildJoinArgs(list, output), binary: options.ffmpegPath, signal: options.signal }).exited
  if (exit.code !== 0) throw new Error(`joining the recording failed: ${exit.spawnError ?? exit.stderrTail.at(-1) ?? `exit ${exit.code ?? exit.signal}`}`)
  const info = await probePart(output, 'recording.mp4', options)
  return { path: output, mimeType: info.hasVideo ? 'video/mp4' : 'audio/mp4', durationSeconds: info.duration, parts: joined.length }
}

/** Removes a recording's working directory (parts, list, joined file). */
export async function removeRecordingDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

interface ProbeJson {
  streams?: Array<{ codec_type?: string; codec_name?: string; width?: number; height?: number; sample_rate?: string; channels?: number }>
  format?: { duration?: string }
}

async function probePart(path: string, name: string, options: RecordingOptions): Promise<PartInfo> {
  const size = (await stat(path)).size
  const empty: PartInfo = { name, duration: 0, hasVideo: false, signature: '' }
  if (size === 0) return empty
  const args = ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,codec_name,width,height,sample_rate,channels', '-of', 'json', path]
  const out = await new Promise<string | undefined>((resolve) =>
    execFile(options.ffprobePath ?? 'ffprobe', args, { timeout: 60_000, signal: options.signal }, (err, stdout) => resolve(err ? undefined : stdout)),
  )
  if (out === undefined) return empty // torn beyond reading: nothing to keep
  const data = JSON.parse(out) as ProbeJson
  const streams = (data.streams ?? []).filter((s) => s.codec_type === 'video' || s.codec_type === 'audio')
  const duration = Number.parseFloat(data.format?.duration ?? '')
  return {
    name,
    duration: Number.isFinite(duration) && duration > 0 && streams.length > 0 ? duration : 0,
    hasVideo: streams.some((s) => s.codec_type === 'video'),
    signature: streams.map((s) => (s.codec_type === 'video' ? `v:${s.codec_name}:${s.width}x${s.height}` : `a:${s.codec_name}:${s.sample_rate}:${s.channels}`)).join(','),
  }
}
