import { computed, signal } from '@preact/signals'
import type { ReadonlySignal, Signal } from '@preact/signals'
import { encodeNaddr } from '../../protocol/coordinate.ts'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { buildTranscodeRequest, getJobFeedback, getTranscodeResult, RENDITIONS } from '../../protocol/job.ts'
import type { Rendition } from '../../protocol/job.ts'
import { KIND_DELETION, KIND_JOB_FEEDBACK, KIND_LIVE_EVENT, KIND_TRANSCODE_REQUEST, KIND_TRANSCODE_RESULT } from '../../protocol/kinds.ts'
import { buildLiveEvent } from '../../protocol/nip53.ts'
import type { LiveStatus } from '../../protocol/nip53.ts'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import type { Transcoder } from './dvms.ts'
import type { Pool } from './pool.ts'
import { describeRefusal } from './refusal.ts'
import type { KeyValueStorage } from './settings.ts'
import { createStreamKey, hashKey } from './stream-key.ts'

/**
 * Going live, as one model: the setup form → planned 30311 + 5311 job (stream key made here,
 * only its hash published) → wait for the DVM's 7000 saying media flows → live 30311 with the
 * HLS URL, re-signed while open so it stays fresh → ended (+ recording when the DVM offers one).
 * The server never signs a 30311: every version is signed here by the streamer.
 */
export interface GoLiveForm {
  title: string
  summary: string
  category: string
  /** Comma-separated. */
  tags: string
  image: string
  unlisted: boolean
  chat: boolean
  /** Comma-separated renditions, or 'audio'. */
  quality: string
  record: boolean
  /** Chosen transcoder pubkey. */
  dvm: string
}

export type GoLivePhase = 'setup' | 'starting' | 'waiting' | 'live' | 'stopping' | 'ended' | 'failed'

export interface LiveCounts {
  current: number
  total: number
}

export interface GoLive {
  form: Signal<GoLiveForm>
  phase: Signal<GoLivePhase>
  /** What the DVM last said (7000 message), or our own progress text. */
  message: Signal<string | undefined>
  /** A problem in plain words (signing, relay refusal, DVM error). */
  error: Signal<string | undefined>
  streamKey: Signal<string | undefined>
  ingestUrl: Signal<string | undefined>
  masterUrl: Signal<string | undefined>
  recording: Signal<string | undefined>
  coordinate: Signal<Coordinate | undefined>
  naddr: ReadonlySignal<string | undefined>
  startedAt: Signal<number | undefined>
  endedAt: Signal<number | undefined>
  /** 'waiting for OBS' | 'live' | 'ended' | … — the status line (contract: golive-status). */
  statusText: ReadonlySignal<string>
  /** Problems with the form, in plain words; empty when it can be submitted. */
  validate(): string[]
  submit(transcoder: Transcoder): Promise<boolean>
  regenerateKey(): Promise<boolean>
  stop(): Promise<boolean>
  /** Re-signs the live 30311 (fresh created_at, current counts). */
  refresh(): Promise<void>
  /** Where counts for the 30311 come from (the dashboard's metrics). */
  setCounts(get: () => LiveCounts | undefined): void
  /** Chat message shown pinned to viewers (`["pinned", id]` on the 30311, as zap.stream does). */
  pinned: Signal<string | undefined>
  pin(id: string | undefined): Promise<void>
  /** Seconds between a viewer's messages, as `["slow_mode", s]` on the 30311 (0: off). */
  slowMode: Signal<number>
  setSlowMode(seconds: number): Promise<void>
  /** Back to an empty form (after an ended stream). */
  reset(): void
  /** Resubscribes to a stream restored from storage; returns the cleanup. */
  start(): () => void
}

export interface GoLiveOptions {
  pool: Pool
  sign: (t: EventTemplate) => Promise<NostrEvent>
  pubkey: () => string | undefined
  relays: () => string[]
  storage: KeyValueStorage
  now?: () => number
  /** Re-sign the live event this often (the relay's freshness window is 1 h). */
  refreshEveryMs?: number
  random?: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array
}

export const DEFAULT_FORM: GoLiveForm = {
  title: '',
  summary: '',
  category: '',
  tags: '',
  image: '',
  unlisted: false,
  chat: true,
  quality: '720p,480p,360p',
  record: false,
  dvm: '',
}

/** Quality presets offered in the form: ladders the chosen transcoder can make, and audio only. */
export function getQualityOptions(t: Transcoder | undefined): { value: string; label: string }[] {
  const can = (t?.renditions ?? RENDITIONS).filter((r) => r !== '240p')
  const max = t?.limits.maxRenditions ?? 4
  const ladders: Rendition[][] = [['1080p', '720p', '480p', '360p'], ['720p', '480p', '360p'], ['480p', '360p'], ['720p']]
  const out = ladders
    .map((l) => l.filter((r) => can.includes(r)).slice(0, max))
    .filter((l, i, all) => l.length > 0 && all.findIndex((m) => m.join() === l.join()) === i)
    .map((l) => ({ value: l.join(','), label: l.join(' + ') }))
  return [...out, { value: 'audio', label: 'Audio only' }]
}

/** OBS video bitrate for the top rendition (what the DVM's ladder expects as input), kbps. */
export function getRecommendedBitrate(quality: string): number {
  const top = quality.split(',')[0]
  return ({ '1080p': 6000, '720p': 4500, '480p': 2500, '360p': 1500, '240p': 800 } as Record<string, number>)[top] ?? 0
}

const STORAGE_KEY = 'relaycast.goLive'
const JOB_LIFETIME_SECONDS = 24 * 3600

interface Saved {
  form: GoLiveForm
  phase: GoLivePhase
  identifier: string
  pubkey: string
  streamKey: string
  requestId: string
  requestRelays: string[]
  ingestUrl?: string
  masterUrl?: string
  recording?: string
  startedAt?: number
  endedAt?: number
  pinned?: string
  slowMode?: number
}

export function createGoLive(opts: GoLiveOptions): GoLive {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000))
  const form = signal<GoLiveForm>({ ...DEFAULT_FORM })
  const phase = signal<GoLivePhase>('setup')
  const message = signal<string | undefined>(undefined)
  const error = signal<string | undefined>(undefined)
  const streamKey = signal<string | undefined>(undefined)
  const ingestUrl = signal<string | undefined>(undefined)
  const masterUrl = signal<string | undefined>(undefined)
  const recording = signal<string | undefined>(undefined)
  const coordinate = signal<Coordinate | undefined>(undefined)
  const startedAt = signal<number | undefined>(undefined)
  const endedAt = signal<number | undefined>(undefined)
  const pinned = signal<string | undefined>(undefined)
  const slowMode = signal(0)
  let requestId: string | undefined
  let requestRelays: string[] = []
  let closeJobSub: (() => void) | undefined
  let refreshTimer: ReturnType<typeof setInterval> | undefined
  let counts: () => LiveCounts | undefined = () => undefined
  const stopRefresh = (): void => {
    clearInterval(refreshTimer)
    refreshTimer = undefined
  }
  let lastCreatedAt = 0

  const save = (): void => {
    const c = coordinate.value
    if (!c || !requestId || !streamKey.value) return opts.storage.removeItem(STORAGE_KEY)
    const s: Saved = { form: form.value, phase: phase.value, identifier: c.identifier, pubkey: c.pubkey, streamKey: streamKey.value, requestId, requestRelays }
    if (ingestUrl.value) s.ingestUrl = ingestUrl.value
    if (masterUrl.value) s.masterUrl = masterUrl.value
    if (recording.value) s.recording = recording.value
    if (startedAt.value) s.startedAt = startedAt.value
    if (endedAt.value) s.endedAt = endedAt.value
    if (pinned.value) s.pinned = pinned.value
    if (slowMode.value) s.slowMode = slowMode.value
    opts.storage.setItem(STORAGE_KEY, JSON.stringify(s))
  }

  /** Signs and publishes; false (with `error` set) when signing fails or every relay refuses. */
  const publish = async (template: EventTemplate): Promise<NostrEvent | undefined> => {
    let event: NostrEvent
    try {
      event = await opts.sign(template)
    } catch (err) {
      error.value = err instanceof Error ? err.message : String(err)
      return undefined
    }
    const outcome = await opts.pool.publish(event, opts.relays())
    if (!outcome.ok) {
      error.value = describeRefusal(outcome.refused[0]?.reason ?? 'no relay to send to')
      return undefined
    }
    return event
  }

  /** Each version must be newer than the last, or the relay keeps the old one. */
  const stamp = (): number => (lastCreatedAt = Math.max(now(), lastCreatedAt + 1))

  const liveTemplate = (status: LiveStatus): EventTemplate => {
    const f = form.value
    const c = coordinate.value!
    const tags = f.tags.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean)
    const category = f.category.trim().toLowerCase()
    const n = status === 'live' ? counts() : undefined
    const template = buildLiveEvent(
      {
        identifier: c.identifier,
        status,
        ...(f.title.trim() ? { title: f.title.trim() } : {}),
        ...(f.summary.trim() ? { summary: f.summary.trim() } : {}),
        ...(f.image.trim() ? { image: f.image.trim() } : {}),
        ...(category ? { category } : {}),
        tags,
        ...(status === 'live' && masterUrl.value ? { streaming: masterUrl.value } : {}),
        ...(recording.value && status === 'ended' ? { recording: recording.value } : {}),
        starts: startedAt.value ?? now(),
        ...(status === 'ended' ? { ends: endedAt.value ?? now() } : {}),
        ...(n ? { currentParticipants: n.current, totalParticipants: n.total } : {}),
        hosts: [{ pubkey: c.pubkey, role: 'Host', relay: opts.relays()[0] ?? '' }],
        relays: opts.relays(),
        chat: f.chat,
        unlisted: f.unlisted,
        ...(status !== 'ended' && slowMode.value > 0 ? { slowMode: slowMode.value } : {}),
      },
      stamp(),
    )
    if (status !== 'ended' && pinned.value) template.tags.push(['pinned', pinned.value])
    return template
  }

  /** Re-signs the current version (planned or live) after a setting changed. */
  const republish = async (): Promise<void> => {
    if (phase.value === 'live') await publish(liveTemplate('live'))
    else if (phase.value === 'waiting') await publish(liveTemplate('planned'))
  }

  const becomeLive = async (): Promise<void> => {
    if (phase.value === 'live' || !masterUrl.value) return
    startedAt.value ??= now()
    phase.value = 'live'
    if (await publish(liveTemplate('live'))) error.value = undefined
    stopRefresh()
    refreshTimer = setInterval(() => void refreshLive(), opts.refreshEveryMs ?? 5 * 60_000)
    save()
  }

  const refreshLive = async (): Promise<void> => {
    if (phase.value === 'live') await publish(liveTemplate('live'))
  }

  const finish = async (): Promise<void> => {
    stopRefresh()
    endedAt.value ??= now()
    phase.value = 'ended'
    await publish(liveTemplate('ended'))
    save()
  }

  const onJobEvent = (e: NostrEvent): void => {
    if (e.kind === KIND_TRANSCODE_RESULT) {
      const r = getTranscodeResult(e)
      if (!r || r.requestId !== requestId) return
      masterUrl.value = r.masterUrl
      ingestUrl.value = r.ingestUrl
      if (r.recording && r.recording !== recording.value) {
        recording.value = r.recording
        if (phase.value === 'ended' || phase.value === 'stopping') void finish()
      }
      save()
      return
    }
    const f = getJobFeedback(e)
    if (!f || f.requestId !== requestId) return
    if (f.ingestUrl) ingestUrl.value = f.ingestUrl
    if (f.message) message.value = f.message
    if (f.recording && f.recording !== recording.value) recording.value = f.recording
    if (f.status === 'error') {
      if (phase.value !== 'ended') {
        error.value = `The transcoder reported a problem: ${f.message || 'unknown error'}`
        if (phase.value === 'live') void finish()
        else phase.value = 'failed'
      }
    } else if (f.status === 'success') {
      void finish()
    } else if (f.status === 'processing') {
      if (f.live === true) void becomeLive()
      else if (phase.value === 'starting') phase.value = 'waiting'
    }
    save()
  }

  const followJob = (): void => {
    closeJobSub?.()
    if (!requestId) return
    closeJobSub = opts.pool.subscribe([{ kinds: [KIND_JOB_FEEDBACK, KIND_TRANSCODE_RESULT], '#e': [requestId] }], { onevent: onJobEvent }, requestRelays)
  }

  const sendJob = async (transcoder: Transcoder | undefined): Promise<boolean> => {
    const key = createStreamKey(opts.random)
    const keyHash = await hashKey(key)
    const f = form.value
    const relays = opts.relays()
    const request = await publish(
      buildTranscodeRequest(
        {
          coordinate: coordinate.value!,
          keyHash,
          renditions: f.quality === 'audio' ? 'audio' : (f.quality.split(',') as Rendition[]),
          record: f.record,
          ...(transcoder || f.dvm ? { dvm: transcoder?.pubkey ?? f.dvm } : {}),
          relays,
          expiration: now() + JOB_LIFETIME_SECONDS,
        },
        stamp(),
      ),
    )
    if (!request) return false
    // Only now does the new key count: the old one stops working when the DVM sees the new job.
    streamKey.value = key
    requestId = request.id
    requestRelays = relays
    if (transcoder) ingestUrl.value = transcoder.ingestUrl
    followJob()
    save()
    return true
  }

  const model: GoLive = {
    form,
    phase,
    message,
    error,
    streamKey,
    ingestUrl,
    masterUrl,
    recording,
    coordinate,
    naddr: computed(() => (coordinate.value ? encodeNaddr(coordinate.value, opts.relays().slice(0, 1)) : undefined)),
    startedAt,
    endedAt,
    statusText: computed(() => {
      switch (phase.value) {
        case 'setup':
          return 'not started'
        case 'starting':
          return 'setting up…'
        case 'waiting':
          return 'waiting for OBS'
        case 'live':
          return 'live'
        case 'stopping':
          return 'ending… stop streaming in OBS'
        case 'ended':
          return 'ended'
        case 'failed':
          return 'could not start'
      }
    }),
    validate() {
      const f = form.value
      const problems: string[] = []
      if (f.title.trim() === '') problems.push('Give your stream a title.')
      if (f.image.trim() !== '' && !/^https?:\/\/\S+$/.test(f.image.trim())) problems.push('The image must be an http(s) URL.')
      if (f.quality !== 'audio' && !f.quality.split(',').every((r) => (RENDITIONS as readonly string[]).includes(r))) problems.push('Pick a quality.')
      if (!opts.pubkey()) problems.push('Sign in first.')
      return problems
    },
    async submit(transcoder) {
      error.value = undefined
      const problems = model.validate()
      if (problems.length > 0) {
        error.value = problems.join(' ')
        return false
      }
      const pubkey = opts.pubkey()!
      phase.value = 'starting'
      message.value = 'Announcing your stream…'
      coordinate.value = { kind: KIND_LIVE_EVENT, pubkey, identifier: `rc-${now().toString(36)}-${createStreamKey(opts.random).slice(0, 6)}` }
      form.value = { ...form.value, dvm: transcoder.pubkey }
      startedAt.value = undefined
      endedAt.value = undefined
      masterUrl.value = undefined
      recording.value = undefined
      if (!(await publish(liveTemplate('planned')))) {
        phase.value = 'setup'
        return false
      }
      message.value = 'Asking the transcoder for a stream slot…'
      if (!(await sendJob(transcoder))) {
        phase.value = 'setup'
        return false
      }
      if (phase.value === 'starting') phase.value = 'waiting'
      message.value = 'Waiting for OBS: start streaming with the server and key below.'
      save()
      return true
    },
    async regenerateKey() {
      if (!coordinate.value) return false
      error.value = undefined
      return sendJob(undefined)
    },
    async stop() {
      if (!coordinate.value || phase.value === 'ended') return false
      const wasRecording = form.value.record
      if (!wasRecording && requestId) {
        // Revoke the job so the DVM drops OBS at once; with a recording we wait for OBS to stop,
        // because a deleted job's recording is discarded.
        await publish({ kind: KIND_DELETION, created_at: now(), content: 'stream ended', tags: [['e', requestId], ['k', String(KIND_TRANSCODE_REQUEST)]] })
      }
      if (wasRecording && !recording.value) {
        phase.value = 'stopping'
        message.value = 'Stop streaming in OBS; the recording will be attached when the transcoder has it.'
        stopRefresh()
        endedAt.value = now()
        await publish(liveTemplate('ended'))
        save()
        return true
      }
      await finish()
      return true
    },
    refresh: refreshLive,
    setCounts(get) {
      counts = get
    },
    pinned,
    async pin(id) {
      pinned.value = id
      save()
      await republish()
    },
    slowMode,
    async setSlowMode(seconds) {
      slowMode.value = Math.max(0, Math.floor(seconds))
      save()
      await republish()
    },
    reset() {
      closeJobSub?.()
      closeJobSub = undefined
      stopRefresh()
      requestId = undefined
      streamKey.value = undefined
      coordinate.value = undefined
      masterUrl.value = undefined
      ingestUrl.value = undefined
      recording.value = undefined
      startedAt.value = undefined
      endedAt.value = undefined
      message.value = undefined
      error.value = undefined
      pinned.value = undefined
      slowMode.value = 0
      phase.value = 'setup'
      form.value = { ...DEFAULT_FORM, dvm: form.value.dvm }
      opts.storage.removeItem(STORAGE_KEY)
    },
    start() {
      const saved = restore(opts.storage)
      if (saved && saved.pubkey === opts.pubkey() && !coordinate.value) {
        form.value = saved.form
        coordinate.value = { kind: KIND_LIVE_EVENT, pubkey: saved.pubkey, identifier: saved.identifier }
        streamKey.value = saved.streamKey
        requestId = saved.requestId
        requestRelays = saved.requestRelays
        ingestUrl.value = saved.ingestUrl
        masterUrl.value = saved.masterUrl
        recording.value = saved.recording
        startedAt.value = saved.startedAt
        endedAt.value = saved.endedAt
        phase.value = saved.phase === 'starting' ? 'waiting' : saved.phase
        pinned.value = saved.pinned
        slowMode.value = saved.slowMode ?? 0
      }
      if (requestId && !closeJobSub) followJob()
      // Back on the page while live (after a reload or a visit elsewhere): fresh again at once.
      if (phase.value === 'live' && refreshTimer === undefined) {
        refreshTimer = setInterval(() => void refreshLive(), opts.refreshEveryMs ?? 5 * 60_000)
        void refreshLive()
      }
      return () => {
        closeJobSub?.()
        closeJobSub = undefined
        stopRefresh()
      }
    },
  }
  return model
}

function restore(storage: KeyValueStorage): Saved | undefined {
  const text = storage.getItem(STORAGE_KEY)
  if (!text) return undefined
  try {
    const s = JSON.parse(text) as Saved
    return typeof s.identifier === 'string' && typeof s.streamKey === 'string' && typeof s.requestId === 'string' ? s : undefined
  } catch (err) {
    console.warn('ignoring unreadable go-live state', err)
    return undefined
  }
}
