import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { createDashboard, getTimelinePoints } from '../state/dashboard.ts'
import type { Dashboard as DashboardModel } from '../state/dashboard.ts'
import type { GoLive } from '../state/go-live.ts'
import { useApp } from './context.ts'
import { Lazy } from './lazy.tsx'

type WatchChunk = typeof import('./watch-chunk.ts')

/**
 * The preview player and the chat come from the watch page's chunk, loaded here on demand: a
 * static import would split that chunk in pieces for viewers (see watch-chunk.ts).
 */
export function Dashboard({ model }: { model: GoLive }) {
  const c = model.coordinate.value
  return c ? (
    <Lazy
      key={c.identifier}
      fallback={<div class="dash" aria-busy="true" />}
      load={() => import('./watch-chunk.ts').then((kit) => () => <DashboardFor model={model} coordinate={c} kit={kit} />)}
    />
  ) : null
}

function DashboardFor({ model, coordinate, kit }: { model: GoLive; coordinate: Coordinate; kit: WatchChunk }) {
  const { pool, settings, session } = useApp()
  const { createStreamView, createChat, Player, ChatPanel } = kit
  const relays = (): string[] => settings.relays.value
  const view = useMemo(() => createStreamView(pool, coordinate, { relays }), [coordinate])
  const dash = useMemo(() => createDashboard(pool, { coordinate, sign: session.sign, relays }), [coordinate])
  const chat = useMemo(() => createChat(pool, { coordinate, relays, moderators: () => [coordinate.pubkey], sign: session.sign }), [coordinate])
  useEffect(() => view.start(), [view])
  useEffect(() => dash.start(), [dash])
  useEffect(() => chat.start(), [chat])
  useEffect(() => dash.onMetrics(view.metrics.value), [view.metrics.value])
  useEffect(() => model.setCounts(() => ({ current: dash.viewersNow.value, total: dash.total.value })), [dash])
  useEffect(() => void (chat.pinnedId.value = model.pinned.value), [chat, model.pinned.value])
  // Keep the 30311's counts current for other clients, at most once a minute.
  const lastRefresh = useRef(0)
  const viewers = dash.viewersNow.value
  useEffect(() => {
    if (model.phase.value !== 'live' || Date.now() - lastRefresh.current < 60_000) return
    lastRefresh.current = Date.now()
    void model.refresh()
  }, [viewers])
  const phase = model.phase.value
  const health = dash.health.value
  const ended = phase === 'ended'
  return (
    <div class="dash">
      {!ended && (
        <section class="panel" aria-label="Live preview and figures">
          <div class="dash-preview">
            <Player src={model.masterUrl.value} message={phase === 'live' ? undefined : 'The preview starts when OBS is streaming.'} muted testId="dash-preview" />
          </div>
          <div class="stats" role="group" aria-label="Viewers">
            <Stat label="Watching now" testId="dash-viewers-now" value={dash.viewersNow.value} />
            <Stat label="Peak" testId="dash-viewers-peak" value={dash.peak.value} />
            <Stat label="Total viewers" testId="dash-viewers-total" value={dash.total.value} />
            <div class="stat-box" data-testid="dash-health">
              <span class="muted small">Stream health</span>
              <b class={health ? `health-${health.health}` : ''}>{health ? health.health : phase === 'live' ? '…' : 'no signal'}</b>
              {health && (
                <span class="small muted">
                  {health.bitrateKbps} kbps · {health.fps} fps · {health.width}×{health.height}
                  {health.speed < 1 ? ` · behind (${health.speed.toFixed(2)}×)` : ''}
                </span>
              )}
            </div>
          </div>
        </section>
      )}
      {ended && <AnalyticsPanel model={model} dash={dash} chatSeen={chat.messages.value.length} />}
      {dash.error.value && <p class="error" role="alert">{dash.error.value}</p>}
      {!ended && (
        <>
          <SlowMode model={model} />
          <ChatPanel
            chat={chat}
            enabled={model.form.value.chat}
            moderation={{ mute: (pk) => void dash.mute(pk), remove: (e) => void dash.remove(e), pin: (e) => void model.pin(model.pinned.value === e.id ? undefined : e.id), pinned: model.pinned.value, muted: dash.muted.value }}
          />
        </>
      )}
    </div>
  )
}

function Stat({ label, value, testId }: { label: string; value: number | string; testId: string }) {
  return (
    <div class="stat-box">
      <span class="muted small">{label}</span>
      <b data-testid={testId}>{value}</b>
    </div>
  )
}

const SLOW_MODE_CHOICES = [0, 5, 10, 30, 60]

/** Per-stream slow mode (a 30311 tag our chat honours) beside the relay's own pace for everyone. */
function SlowMode({ model }: { model: GoLive }) {
  const { settings } = useApp()
  const relay = settings.relays.value[0]
  const [relaySeconds, setRelaySeconds] = useState<number | undefined>(undefined)
  useEffect(() => {
    if (!relay) return
    const abort = new AbortController()
    fetch(relay.replace(/^ws/, 'http'), { headers: { accept: 'application/nostr+json' }, signal: abort.signal })
      .then((r) => r.json() as Promise<{ relaycast?: { chat_rules?: { slow_mode?: { seconds_per_message?: number } } } }>)
      .then((info) => setRelaySeconds(info.relaycast?.chat_rules?.slow_mode?.seconds_per_message))
      .catch((err: unknown) => abort.signal.aborted || console.warn('no NIP-11 from the relay', err))
    return () => abort.abort()
  }, [relay])
  const value = model.slowMode.value
  return (
    <p class="row small">
      <label class="row">
        Slow mode
        <select data-testid="dash-slowmode" value={String(value)} onChange={(e) => void model.setSlowMode(Number(e.currentTarget.value))} aria-describedby="slowmode-note">
          {[...new Set([...SLOW_MODE_CHOICES, value])].sort((a, b) => a - b).map((s) => (
            <option key={s} value={String(s)}>{s === 0 ? 'Off' : `${s} s between messages`}</option>
          ))}
        </select>
      </label>
      <span id="slowmode-note" class="muted">
        {relaySeconds ? `The relay also allows at most one message per ${relaySeconds} s per viewer.` : 'Viewers’ apps pace their messages.'}
      </span>
    </p>
  )
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`
}

function AnalyticsPanel({ model, dash, chatSeen }: { model: GoLive; dash: DashboardModel; chatSeen: number }) {
  const started = model.startedAt.value
  const endedAt = model.endedAt.value ?? Math.floor(Date.now() / 1000)
  const a = dash.analytics(started ?? endedAt, endedAt, chatSeen)
  const points = getTimelinePoints(a.timeline, 300, 100)
  return (
    <section class="panel" data-testid="dash-analytics" aria-labelledby="analytics-title">
      <h2 id="analytics-title">How it went</h2>
      <div class="stats">
        <Stat label="Duration" testId="dash-duration" value={formatDuration(a.durationSeconds)} />
        <Stat label="Peak viewers" testId="dash-viewers-peak" value={a.peak} />
        <Stat label="Total viewers" testId="dash-viewers-total" value={a.total} />
        <Stat label="Chat messages" testId="dash-chat-count" value={a.chatMessages} />
      </div>
      <svg class="timeline" data-testid="dash-timeline" viewBox="0 0 300 100" preserveAspectRatio="none" role="img" aria-label="Viewers over time">
        {points ? <polyline points={points} fill="none" stroke="#ff3b5c" stroke-width="2" vector-effect="non-scaling-stroke" /> : <text x="150" y="55" text-anchor="middle" fill="#9aa3b5" font-size="10">no viewer data</text>}
      </svg>
      {model.recording.value && (
        <p>
          <a class="btn" href={model.recording.value} data-testid="recording-link" target="_blank" rel="noopener">Download the recording</a>
        </p>
      )}
    </section>
  )
}
