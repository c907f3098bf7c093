import './shell-link.ts'
import { useEffect, useMemo } from 'preact/hooks'
import type { AppState } from '../state/app.ts'
import { createTranscoders } from '../state/dvms.ts'
import type { Transcoders } from '../state/dvms.ts'
import { createGoLive, getQualityOptions } from '../state/go-live.ts'
import type { GoLive as GoLiveModel, GoLiveForm } from '../state/go-live.ts'
import { useApp } from './context.ts'
import { Dashboard } from './dashboard.tsx'
import { ObsCard } from './obs-card.tsx'

/** One go-live model per signed-in streamer, kept while the app runs (leaving the page does not stop a stream). */
let current: { pubkey: string; model: GoLiveModel; transcoders: Transcoders } | undefined

function getModel(app: AppState, pubkey: string): { model: GoLiveModel; transcoders: Transcoders } {
  if (current?.pubkey !== pubkey) {
    current = {
      pubkey,
      model: createGoLive({
        pool: app.pool,
        sign: app.session.sign,
        pubkey: () => app.session.pubkey.value,
        relays: () => app.settings.relays.value,
        storage: localStorage,
      }),
      transcoders: createTranscoders(app.pool),
    }
  }
  return current
}

export function GoLive() {
  const app = useApp()
  const pubkey = app.session.pubkey.value
  if (!pubkey) {
    return (
      <div class="page">
        <h1>Go live</h1>
        <p>To go live, sign in first (top right): your stream is announced with your Nostr key.</p>
      </div>
    )
  }
  return <GoLiveFor pubkey={pubkey} />
}

function GoLiveFor({ pubkey }: { pubkey: string }) {
  const app = useApp()
  const { model, transcoders } = useMemo(() => getModel(app, pubkey), [pubkey])
  useEffect(() => transcoders.start(), [transcoders])
  useEffect(() => model.start(), [model])
  const phase = model.phase.value
  return (
    <div class="page">
      <h1>Go live</h1>
      {phase === 'setup' || phase === 'failed' ? (
        <SetupForm model={model} transcoders={transcoders} />
      ) : (
        <>
          <p class="row">
            Status:{' '}
            <span class={`status-pill ${phase === 'live' ? 'live' : ''}`} data-testid="golive-status" role="status">
              {model.statusText.value}
            </span>
            {model.naddr.value && <a href={`/${model.naddr.value}`}>Open the viewer page</a>}
          </p>
          {model.message.value && phase !== 'ended' && model.message.value !== model.statusText.value && <p class="muted">{model.message.value}</p>}
          {model.error.value && <p class="error" role="alert">{model.error.value}</p>}
          {phase !== 'ended' && <ObsCard model={model} />}
          <Dashboard model={model} />
          {phase !== 'ended' ? (
            <button class="btn danger" type="button" data-testid="golive-stop" disabled={phase === 'stopping'} onClick={() => void model.stop()}>
              End stream
            </button>
          ) : (
            <button class="btn primary" type="button" onClick={() => model.reset()}>Set up another stream</button>
          )}
        </>
      )}
    </div>
  )
}

function SetupForm({ model, transcoders }: { model: GoLiveModel; transcoders: Transcoders }) {
  const f = model.form.value
  const list = transcoders.list.value
  const chosen = list.find((t) => t.pubkey === f.dvm) ?? list[0]
  const qualities = getQualityOptions(chosen)
  const set = <K extends keyof GoLiveForm>(k: K, v: GoLiveForm[K]): void => {
    model.form.value = { ...model.form.value, [k]: v }
  }
  const busy = model.phase.value === 'starting'
  return (
    <form
      class="form"
      onSubmit={(e) => {
        e.preventDefault()
        if (chosen) void model.submit(chosen)
        else model.error.value = 'No transcoder is available on your relays yet.'
      }}
    >
      <label class="field">
        <span>Title</span>
        <input data-testid="golive-title" required maxLength={200} value={f.title} onInput={(e) => set('title', e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Summary</span>
        <textarea data-testid="golive-summary" maxLength={2000} value={f.summary} onInput={(e) => set('summary', e.currentTarget.value)} />
      </label>
      <div class="row">
        <label class="field grow">
          <span>Category</span>
          <input data-testid="golive-category" placeholder="gaming, music, talk…" value={f.category} onInput={(e) => set('category', e.currentTarget.value)} />
        </label>
        <label class="field grow">
          <span>Tags (comma-separated)</span>
          <input data-testid="golive-tags" value={f.tags} onInput={(e) => set('tags', e.currentTarget.value)} />
        </label>
      </div>
      <label class="field">
        <span>Image URL (optional)</span>
        <input data-testid="golive-image" type="url" inputMode="url" placeholder="https://…" value={f.image} onInput={(e) => set('image', e.currentTarget.value)} />
      </label>
      <div class="row">
        <label class="field grow">
          <span>Visibility</span>
          <select data-testid="golive-visibility" value={f.unlisted ? 'unlisted' : 'public'} onChange={(e) => set('unlisted', e.currentTarget.value === 'unlisted')}>
            <option value="public">Public (listed in Discover)</option>
            <option value="unlisted">Unlisted (only with the link)</option>
          </select>
        </label>
        <label class="field grow">
          <span>Quality</span>
          <select data-testid="golive-quality" value={f.quality} onChange={(e) => set('quality', e.currentTarget.value)}>
            {!qualities.some((q) => q.value === f.quality) && <option value={f.quality}>{f.quality === 'audio' ? 'Audio only' : f.quality.replaceAll(',', ' + ')}</option>}
            {qualities.map((q) => (
              <option key={q.value} value={q.value}>{q.label}</option>
            ))}
          </select>
        </label>
      </div>
      <label class="check">
        <input type="checkbox" data-testid="golive-chat" checked={f.chat} onChange={(e) => set('chat', e.currentTarget.checked)} /> Chat on
      </label>
      <label class="check">
        <input type="checkbox" data-testid="golive-record" checked={f.record} onChange={(e) => set('record', e.currentTarget.checked)} /> Keep a recording
      </label>
      <label class="field">
        <span>Transcoder</span>
        <select data-testid="golive-dvm" value={chosen?.pubkey ?? ''} onChange={(e) => set('dvm', e.currentTarget.value)} disabled={list.length === 0}>
          {list.length === 0 && <option value="">{transcoders.loading.value ? 'Looking for transcoders…' : 'No transcoder found on your relays'}</option>}
          {list.map((t) => (
            <option key={t.pubkey} value={t.pubkey}>
              {t.name} — up to {t.limits.maxRenditions} renditions
            </option>
          ))}
        </select>
      </label>
      {model.error.value && <p class="error" role="alert">{model.error.value}</p>}
      <button class="btn primary" type="submit" data-testid="golive-submit" disabled={busy || !chosen}>
        {busy ? 'Setting up…' : 'Create stream'}
      </button>
    </form>
  )
}
