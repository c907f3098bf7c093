import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { isHex64 } from './event.ts'
import { compareEvents } from './filter.ts'
import { formatCoordinate, getCoordinate, sameCoordinate } from './coordinate.ts'
import type { Coordinate } from './coordinate.ts'
import { KIND_JOB_FEEDBACK, KIND_LIVE_EVENT, KIND_TRANSCODE_REQUEST, KIND_TRANSCODE_RESULT } from './kinds.ts'
import type { EventTemplate, NostrEvent } from './types.ts'

/**
 * The live transcode job, in NIP-90 shapes with our own kinds: request 5311 (streamer) →
 * result 6311 and feedback 7000 (DVM). The stream key never appears in any event: the request
 * carries only its sha256, which ingest compares against the key OBS presents.
 */

export const RENDITIONS = ['1080p', '720p', '480p', '360p', '240p'] as const
export type Rendition = (typeof RENDITIONS)[number]

/** The HLS output, for NIP-90's `output` tag. */
export const HLS_MIME = 'application/vnd.apple.mpegurl'

export interface TranscodeRequest {
  /** The 30311 this job serves; it must be the requester's own. */
  coordinate: Coordinate
  /** hex(sha256(stream key)), see hashStreamKey. */
  keyHash: string
  renditions: Rendition[] | 'audio'
  /** Keep the stream and offer it as a recording. */
  record: boolean
  /** The DVM asked to do it; any DVM may take it when absent. */
  dvm?: string
  /** Where the DVM should publish its feedback and result. */
  relays: string[]
  /** NIP-40: the request (and so the key) is void after this. */
  expiration: number
}

export interface ParsedTranscodeRequest extends TranscodeRequest {
  id: string
  /** The requester (NIP-90 customer). */
  customer: string
  created_at: number
}

/** A request that cannot be served; `message` is plain enough for a 7000 `error` feedback. */
export class JobError extends Error {
  override name = 'JobError'
}

const now = (): number => Math.floor(Date.now() / 1000)

export function buildTranscodeRequest(req: TranscodeRequest, created_at: number = now()): EventTemplate {
  const coord = formatCoordinate(req.coordinate)
  const tags: string[][] = [
    ['i', coord, 'event'],
    ['a', coord],
    ['output', HLS_MIME],
    ['param', 'key_hash', req.keyHash],
    ['param', 'renditions', req.renditions === 'audio' ? 'audio' : req.renditions.join(',')],
    ['param', 'record', req.record ? 'true' : 'false'],
  ]
  if (req.dvm !== undefined) tags.push(['p', req.dvm])
  if (req.relays.length > 0) tags.push(['relays', ...req.relays])
  tags.push(['expiration', String(req.expiration)])
  return { kind: KIND_TRANSCODE_REQUEST, created_at, tags, content: '' }
}

export interface ParseRequestOptions {
  /** When given, an expired request is refused. */
  now?: number
}

/** Reads a 5311 the way a DVM must before accepting it. Throws JobError with a plain reason. */
export function parseTranscodeRequest(e: NostrEvent, opts: ParseRequestOptions = {}): ParsedTranscodeRequest {
  if (e.kind !== KIND_TRANSCODE_REQUEST) throw new JobError(`not a transcode request (kind ${e.kind})`)
  const coordinate = requestCoordinate(e.tags)
  if (coordinate.pubkey !== e.pubkey) {
    // Otherwise anyone could replace a streamer's job (and key) for a stream that is not theirs.
    throw new JobError('the live event belongs to another pubkey: only its author can request a transcode')
  }
  const keyHash = param(e.tags, 'key_hash')
  if (keyHash === undefined) throw new JobError('missing param key_hash')
  if (!isHex64(keyHash)) throw new JobError('param key_hash must be the sha256 of the stream key as 64 lowercase hex characters')
  const renditions = parseRenditions(param(e.tags, 'renditions'))
  const recordText = param(e.tags, 'record') ?? 'false'
  if (recordText !== 'true' && recordText !== 'false') throw new JobError('param record must be "true" or "false"')
  const dvmTag = e.tags.find((t) => t[0] === 'p')
  if (dvmTag && !isHex64(dvmTag[1])) throw new JobError('p tag must be the DVM pubkey as 64 lowercase hex characters')
  const expirationTag = e.tags.find((t) => t[0] === 'expiration')
  if (!expirationTag) throw new JobError('missing expiration tag')
  if (!/^[0-9]{1,15}$/.test(String(expirationTag[1]))) throw new JobError('expiration must be a unix time in seconds')
  const expiration = Number(expirationTag[1])
  if (opts.now !== undefined && expiration <= opts.now) throw new JobError(`request expired at ${expiration}`)
  const parsed: ParsedTranscodeRequest = {
    id: e.id,
    customer: e.pubkey,
    created_at: e.created_at,
    coordinate,
    keyHash,
    renditions,
    record: recordText === 'true',
    relays: e.tags.filter((t) => t[0] === 'relays').flatMap((t) => t.slice(1)).filter((r) => r !== ''),
    expiration,
  }
  if (dvmTag) parsed.dvm = dvmTag[1]
  return parsed
}

export function getTranscodeRequest(e: NostrEvent, opts: ParseRequestOptions = {}): ParsedTranscodeRequest | undefined {
  try {
    return parseTranscodeRequest(e, opts)
  } catch (err) {
    if (err instanceof JobError) return undefined
    throw err
  }
}

/** What the request publishes and ingest compares against: hex(sha256(utf-8 key)). */
export function hashStreamKey(key: string): string {
  return bytesToHex(sha256(utf8ToBytes(key)))
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * A fresh stream key: 32 characters of [A-Za-z0-9_-] (the only characters node-media-server
 * accepts in a stream name), 192 random bits. 64 divides 256, so every character is uniform.
 */
export function generateStreamKey(): string {
  let key = ''
  for (const byte of randomBytes(32)) key += KEY_ALPHABET[byte & 63]
  return key
}

// ---- 7000 feedback ----

export const JOB_STATUSES = ['payment-required', 'processing', 'error', 'success'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

/** The parts of a request event a reply needs. */
export type JobRequestRef = Pick<NostrEvent, 'id' | 'pubkey' | 'tags'>

export interface JobFeedbackExtra {
  /** true while media flows from OBS, false while waiting for it. */
  live?: boolean
  /** The RTMP server URL to give OBS. */
  ingestUrl?: string
  recording?: string
}

export interface JobFeedbackInput {
  request: JobRequestRef
  status: JobStatus
  /** Human-readable: what the streamer sees (NIP-90 `status` extra info). */
  message: string
  extra?: JobFeedbackExtra
}

export interface JobFeedback extends JobFeedbackExtra {
  status: JobStatus
  message: string
  requestId: string
  customer: string
  coordinate?: Coordinate
}

/**
 * Tags: NIP-90's `["status", status, message]`, `["e", request]`, `["p", customer]`, plus
 * `["a", coord]` so a client can follow a stream's job by `#a`, and ours: `["live","true"|"false"]`,
 * `["ingest", rtmp-url]`, `["recording", url]`.
 */
export function buildJobFeedback(input: JobFeedbackInput, created_at: number = now()): EventTemplate {
  const tags = replyTags(input.request)
  tags.unshift(['status', input.status, input.message])
  const extra = input.extra ?? {}
  if (extra.live !== undefined) tags.push(['live', extra.live ? 'true' : 'false'])
  if (extra.ingestUrl !== undefined) tags.push(['ingest', extra.ingestUrl])
  if (extra.recording !== undefined) tags.push(['recording', extra.recording])
  return { kind: KIND_JOB_FEEDBACK, created_at, tags, content: '' }
}

export function getJobFeedback(e: EventTemplate): JobFeedback | undefined {
  if (e.kind !== KIND_JOB_FEEDBACK) return undefined
  const status = e.tags.find((t) => t[0] === 'status')
  if (!status || !(JOB_STATUSES as readonly string[]).includes(status[1])) return undefined
  const reply = readReplyTags(e.tags)
  if (!reply) return undefined
  const feedback: JobFeedback = { status: status[1] as JobStatus, message: status[2] ?? '', ...reply }
  const live = first(e.tags, 'live')
  if (live === 'true' || live === 'false') feedback.live = live === 'true'
  const ingest = first(e.tags, 'ingest')
  if (ingest !== undefined) feedback.ingestUrl = ingest
  const recording = first(e.tags, 'recording')
  if (recording !== undefined) feedback.recording = recording
  return feedback
}

// ---- 6311 result ----

export interface HlsVariant {
  /** The rendition name ('720p', 'audio', …). */
  name: string
  /** The variant (media) playlist URL. */
  url: string
  width?: number
  height?: number
  /** Peak bits per second, as in the master playlist's BANDWIDTH. */
  bandwidth: number
}

export interface TranscodeResultInput {
  request: NostrEvent
  masterUrl: string
  variants: HlsVariant[]
  ingestUrl: string
  recording?: string
}

export interface TranscodeResult {
  requestId: string
  customer: string
  coordinate?: Coordinate
  masterUrl: string
  variants: HlsVariant[]
  ingestUrl: string
  recording?: string
}

/**
 * The result, published as soon as the job is accepted. NIP-90 tags: `["request", <request JSON>]`,
 * `["e", request]`, `["p", customer]`, the request's `i` tags; `content` is the output, the HLS
 * master playlist URL. Ours: `["a", coord]`, `["ingest", rtmp-url]`, `["recording", url]` and
 * one `["variant", name, playlist-url, bandwidth, "<width>x<height>"]` per rendition, in ladder
 * order (the resolution is left out for audio).
 */
export function buildTranscodeResult(input: TranscodeResultInput, created_at: number = now()): EventTemplate {
  const { request } = input
  const tags: string[][] = [['request', JSON.stringify(request)], ...replyTags(request)]
  for (const t of request.tags) if (t[0] === 'i') tags.push([...t])
  tags.push(['ingest', input.ingestUrl])
  for (const v of input.variants) {
    const tag = ['variant', v.name, v.url, String(v.bandwidth)]
    if (v.width !== undefined && v.height !== undefined) tag.push(`${v.width}x${v.height}`)
    tags.push(tag)
  }
  if (input.recording !== undefined) tags.push(['recording', input.recording])
  return { kind: KIND_TRANSCODE_RESULT, created_at, tags, content: input.masterUrl }
}

export function getTranscodeResult(e: EventTemplate): TranscodeResult | undefined {
  if (e.kind !== KIND_TRANSCODE_RESULT || e.content === '') return undefined
  const reply = readReplyTags(e.tags)
  const ingestUrl = first(e.tags, 'ingest')
  if (!reply || ingestUrl === undefined) return undefined
  const variants: HlsVariant[] = []
  for (const t of e.tags) {
    if (t[0] !== 'variant') continue
    const v = readVariant(t)
    if (!v) return undefined
    variants.push(v)
  }
  const result: TranscodeResult = { ...reply, masterUrl: e.content, variants, ingestUrl }
  const recording = first(e.tags, 'recording')
  if (recording !== undefined) result.recording = recording
  return result
}

/**
 * The current result of a job. A live job's 6311 is published again as the DVM learns more: the
 * variants really made (sizes at the input's aspect ratio) once the input is probed, and
 * `recording` (a Blossom URL, `<server>/<sha256>.<ext>`) once the stream has ended and was
 * recorded. So the newest readable 6311 by the DVM for the request is the one to use (newest
 * created_at, then lowest id, as for replaceable events). Events by anyone else are ignored.
 */
export function getLatestTranscodeResult(events: readonly NostrEvent[], requestId: string, dvm: string): TranscodeResult | undefined {
  const mine = events.filter((e) => e.kind === KIND_TRANSCODE_RESULT && e.pubkey === dvm).sort(compareEvents)
  for (const e of mine) {
    const result = getTranscodeResult(e)
    if (result?.requestId === requestId) return result
  }
  return undefined
}

function readVariant(t: string[]): HlsVariant | undefined {
  const [, name, url, bandwidth, resolution] = t
  if (!name || !url || !/^[0-9]{1,12}$/.test(String(bandwidth))) return undefined
  const v: HlsVariant = { name, url, bandwidth: Number(bandwidth) }
  if (resolution !== undefined) {
    const m = /^([0-9]{1,5})x([0-9]{1,5})$/.exec(resolution)
    if (!m) return undefined
    v.width = Number(m[1])
    v.height = Number(m[2])
  }
  return v
}

// ---- shared ----

function first(tags: string[][], name: string): string | undefined {
  return tags.find((t) => t[0] === name && typeof t[1] === 'string')?.[1]
}

/** Exactly one value per param: two differing key hashes must never be guessed between. */
function param(tags: string[][], name: string): string | undefined {
  const values = tags.filter((t) => t[0] === 'param' && t[1] === name)
  if (values.length > 1) throw new JobError(`param ${name} is given more than once`)
  const value = values[0]?.[2]
  if (values.length === 1 && typeof value !== 'string') throw new JobError(`param ${name} has no value`)
  return value
}

function requestCoordinate(tags: string[][]): Coordinate {
  const a = tags.find((t) => t[0] === 'a')
  const i = tags.find((t) => t[0] === 'i' && t[2] === 'event')
  const fromA = a ? liveCoordinate(a[1], 'a') : undefined
  const fromI = i ? liveCoordinate(i[1], 'i') : undefined
  if (fromA && fromI && !sameCoordinate(fromA, fromI)) throw new JobError('the a and i tags name different live events')
  const coordinate = fromA ?? fromI
  if (!coordinate) throw new JobError('the request names no live event (an a tag with a 30311 coordinate)')
  return coordinate
}

function liveCoordinate(value: unknown, tag: string): Coordinate {
  const c = typeof value === 'string' ? getCoordinate(value) : undefined
  if (!c || c.kind !== KIND_LIVE_EVENT) throw new JobError(`the ${tag} tag is not a 30311 coordinate`)
  return c
}

function parseRenditions(value: string | undefined): Rendition[] | 'audio' {
  if (value === undefined) throw new JobError('missing param renditions')
  if (value.trim() === 'audio') return 'audio'
  if (value.trim() === '') throw new JobError('param renditions is empty')
  const names = value.split(',').map((s) => s.trim())
  const renditions: Rendition[] = []
  for (const name of names) {
    if (!(RENDITIONS as readonly string[]).includes(name)) {
      throw new JobError(`unknown rendition "${name.slice(0, 20)}" (expected audio or some of ${RENDITIONS.join(', ')})`)
    }
    if (renditions.includes(name as Rendition)) throw new JobError(`rendition ${name} is listed twice`)
    renditions.push(name as Rendition)
  }
  return renditions
}

/** `e` (with the request's first relay as hint), `p` customer, and `a` when the request names a stream. */
function replyTags(request: JobRequestRef): string[][] {
  const hint = request.tags.find((t) => t[0] === 'relays')?.[1]
  const tags: string[][] = [hint ? ['e', request.id, hint] : ['e', request.id], ['p', request.pubkey]]
  const a = request.tags.find((t) => t[0] === 'a')?.[1]
  if (typeof a === 'string' && getCoordinate(a)?.kind === KIND_LIVE_EVENT) tags.push(['a', a])
  return tags
}

function readReplyTags(tags: string[][]): Pick<JobFeedback, 'requestId' | 'customer' | 'coordinate'> | undefined {
  const e = first(tags, 'e')
  const p = first(tags, 'p')
  if (e === undefined || !isHex64(e) || p === undefined || !isHex64(p)) return undefined
  const out: Pick<JobFeedback, 'requestId' | 'customer' | 'coordinate'> = { requestId: e, customer: p }
  const a = first(tags, 'a')
  const c = a !== undefined ? getCoordinate(a) : undefined
  if (c && c.kind === KIND_LIVE_EVENT) out.coordinate = c
  return out
}
