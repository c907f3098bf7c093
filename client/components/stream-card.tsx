import { formatStart as when } from '../state/stream-entry.ts'
import type { StreamEntry } from '../state/stream-entry.ts'
import { Host } from './host.tsx'

export function StreamCard({ s }: { s: StreamEntry }) {
  const { live } = s
  const title = live.title || 'Untitled stream'
  return (
    <article class="card" data-testid="stream-card" data-naddr={s.naddr} data-status={s.status}>
      <a class="card-link" href={`/${s.naddr}`} aria-label={`${title}${s.status === 'live' ? ' (live)' : ''}`}>
        <div class="thumb">
          {live.image ? <img src={live.image} alt="" loading="lazy" referrerpolicy="no-referrer" /> : <div class="placeholder" aria-hidden="true">▶</div>}
          {s.status === 'live' && <span class="badge live" data-testid="live-badge">LIVE</span>}
          {s.status === 'planned' && <span class="badge">{live.starts ? when(live.starts) : 'Soon'}</span>}
          {s.status === 'ended' && live.recording && <span class="badge">Recording</span>}
          {s.status === 'live' && (
            <span class="badge viewers" data-testid="viewer-count" aria-label={`${s.viewers ?? 0} watching`}>
              {s.viewers ?? 0} watching
            </span>
          )}
        </div>
        <h3 class="card-title" data-testid="stream-title">{title}</h3>
      </a>
      <div class="card-meta">
        <Host pubkey={s.live.hosts.find((h) => h.role.toLowerCase() === 'host')?.pubkey ?? s.event.pubkey} size={24} />
        {live.category && <span class="chip">{live.category}</span>}
      </div>
    </article>
  )
}
