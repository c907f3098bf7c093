import { useEffect, useMemo } from 'preact/hooks'
import type { DecodedNaddr } from '../../protocol/coordinate.ts'
import { createChat } from '../state/chat.ts'
import { startPresence } from '../state/presence.ts'
import { createStreamView } from '../state/stream.ts'
import { formatStart as when } from '../state/stream-entry.ts'
import type { StreamEntry } from '../state/stream-entry.ts'
import type { StreamMetrics } from '../state/stream-entry.ts'
import { ChatPanel } from './chat.tsx'
import { useApp } from './context.ts'
import { Host } from './host.tsx'
import { Player } from './player.tsx'

export function Watch({ target }: { target: DecodedNaddr }) {
  const app = useApp()
  const { pool, settings, session } = app
  const view = useMemo(
    () => createStreamView(pool, target.coordinate, { relays: () => [...new Set([...settings.relays.value, ...target.relays])] }),
    [target],
  )
  useEffect(() => view.start(), [view])
  const entry = view.entry.value
  const live = entry?.live
  const chatRelays = live && live.relays.length > 0 ? live.relays : settings.relays.value
  const relayKey = chatRelays.join(' ')
  const chat = useMemo(
    () => createChat(pool, { coordinate: target.coordinate, relays: () => chatRelays, moderators: () => moderatorsOf(view.entry.value, target.coordinate.pubkey), sign: session.sign }),
    [target, relayKey],
  )
  useEffect(() => chat.start(), [chat])
  useEffect(() => {
    chat.pinnedId.value = entry?.event.tags.find((t) => t[0] === 'pinned')?.[1]
    chat.slowMode.value = Number(entry?.event.tags.find((t) => t[0] === 'slow_mode')?.[1] ?? 0) || 0
  }, [chat, entry?.event.id])
  const signedIn = session.signedIn.value
  const isLive = entry?.status === 'live'
  useEffect(() => (signedIn && isLive ? startPresence(pool, session.sign, target.coordinate, () => chatRelays) : undefined), [signedIn, isLive, relayKey])

  return (
    <div class="watch">
      <div class="watch-main">
        <Player src={live?.streaming} message={playerMessage(entry, view.loading.value)} poster={live?.image} />
        <StreamInfo entry={entry} metrics={view.metrics.value} pubkey={target.coordinate.pubkey} />
      </div>
      <ChatPanel key={chat} chat={chat} enabled={live?.chat !== false} ended={entry?.status === 'ended'} />
    </div>
  )
}

/** The stream's author plus its `p` Hosts and Moderators: whose kind 5 removes chat. */
export function moderatorsOf(entry: StreamEntry | undefined, author: string): string[] {
  return [author, ...(entry?.live.hosts.filter((h) => /^(host|moderator)$/i.test(h.role)).map((h) => h.pubkey) ?? [])]
}

export function playerMessage(entry: StreamEntry | undefined, loading: boolean): string | undefined {
  if (!entry) return loading ? 'Loading stream…' : 'This stream was not found on your relays.'
  if (entry.status === 'planned') return entry.live.starts ? `Starts ${when(entry.live.starts)}` : 'This stream has not started yet.'
  if (entry.status === 'ended') return entry.live.recording ? 'This stream has ended. The recording is below.' : 'This stream has ended.'
  if (!entry.live.streaming) return 'Waiting for signal…'
  return undefined
}

function StreamInfo({ entry, metrics, pubkey }: { entry: StreamEntry | undefined; metrics: StreamMetrics; pubkey: string }) {
  const live = entry?.live
  const health = metrics.transcoder?.status === 'live' ? metrics.transcoder.figures : undefined
  return (
    <section class="info" aria-label="About this stream">
      <h1 data-testid="stream-title">{live?.title || (entry ? 'Untitled stream' : '…')}</h1>
      <div class="info-row">
        <Host pubkey={live?.hosts.find((h) => /^host$/i.test(h.role))?.pubkey ?? pubkey} size={36} />
        {entry?.status === 'live' && <span class="badge live">LIVE</span>}
        <span class="stat" data-testid="viewer-count" aria-label="viewers">{entry?.viewers ?? 0} watching</span>
        {health && (
          <span class={`stat health-${health.health}`} title={`${health.bitrateKbps} kbps · ${health.fps} fps · ${health.width}×${health.height}`}>
            ● {health.height ? `${health.height}p` : ''} {health.health}
          </span>
        )}
      </div>
      {live?.summary && <p class="summary">{live.summary}</p>}
      {live && (live.category || live.tags.length > 0) && (
        <p class="chips">
          {[live.category, ...live.tags].filter(Boolean).map((t) => (
            <span class="chip" key={t}>{t}</span>
          ))}
        </p>
      )}
      {entry?.status === 'ended' && live?.recording && (
        <p>
          <a class="btn" href={live.recording} data-testid="recording-link" target="_blank" rel="noopener">Watch the recording</a>
        </p>
      )}
    </section>
  )
}
