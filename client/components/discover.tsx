import { useEffect } from 'preact/hooks'
import type { ReadonlySignal } from '@preact/signals'
import type { StreamEntry } from '../state/stream-entry.ts'
import { useApp } from './context.ts'
import { StreamCard } from './stream-card.tsx'

export function Discover() {
  const { streams } = useApp()
  useEffect(() => streams.start(), [])
  const cats = streams.categories.value
  return (
    <div class="page">
      <div class="toolbar">
        <h1>Live now</h1>
        <label class="filter">
          <span class="sr-only">Category</span>
          <select
            data-testid="category-filter"
            value={streams.category.value ?? ''}
            onChange={(e) => (streams.category.value = e.currentTarget.value || undefined)}
          >
            <option value="">All categories</option>
            {cats.map((c) => (
              <option key={c} value={c}>{c}</option>
            ))}
          </select>
        </label>
      </div>
      <Section id="live" title="" list={streams.live} empty={streams.loading.value ? 'Looking for live streams…' : 'Nobody is live right now. Be the first: press Go live.'} hideTitle />
      <Section id="planned" title="Coming up" list={streams.planned} />
      <Section id="ended" title="Recordings" list={streams.ended} />
    </div>
  )
}

function Section({ id, title, list, empty, hideTitle }: { id: string; title: string; list: ReadonlySignal<StreamEntry[]>; empty?: string; hideTitle?: boolean }) {
  const items = list.value
  if (items.length === 0 && !empty) return null
  return (
    <section data-testid={`section-${id}`} aria-label={title || 'Live now'} class="section">
      {!hideTitle && <h2>{title}</h2>}
      {items.length === 0 ? (
        <p class="muted empty">{empty}</p>
      ) : (
        <div class="grid">
          {items.map((s) => (
            <StreamCard key={s.address} s={s} />
          ))}
        </div>
      )}
    </section>
  )
}
