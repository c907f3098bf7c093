import './shell-link.ts'
import { useEffect, useRef, useState } from 'preact/hooks'
import { useApp } from './context.ts'

/** Sign-in dialog: NIP-07 extension first, else a key kept in this browser (or imported). */
export function SignIn({ onClose }: { onClose: () => void }) {
  const { session } = useApp()
  const ref = useRef<HTMLDivElement>(null)
  const [busy, setBusy] = useState(false)
  const [nsec, setNsec] = useState('')
  const [bunker, setBunker] = useState('')
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null
    ref.current?.querySelector<HTMLElement>('button')?.focus()
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') onClose()
    }
    document.addEventListener('keydown', onKey)
    return () => {
      document.removeEventListener('keydown', onKey)
      prev?.focus()
    }
  }, [])
  const run = async (f: () => Promise<boolean>): Promise<void> => {
    setBusy(true)
    const ok = await f()
    setBusy(false)
    if (ok) onClose()
  }
  const hasExt = session.hasExtension()
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="signin-title" ref={ref}>
        <h2 id="signin-title">Sign in</h2>
        <p class="muted">You can watch without signing in. To chat or go live, sign events with a Nostr key.</p>
        {hasExt && (
          <button class="btn primary block" type="button" disabled={busy} onClick={() => run(session.signInWithExtension)}>
            Use my Nostr extension
          </button>
        )}
        <button class={`btn block ${hasExt ? '' : 'primary'}`} type="button" data-testid="sign-in-local" disabled={busy} onClick={() => run(session.signInWithLocalKey)}>
          Use a key kept in this browser
        </button>
        <p class="warn small">
          A browser key lives only in this browser's storage: clearing site data loses it. Export it from Settings to keep it.
        </p>
        <details>
          <summary>I have a key (nsec)</summary>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault()
              void run(() => session.importLocalKey(nsec))
            }}
          >
            <label class="grow">
              <span class="sr-only">Secret key</span>
              <input type="password" autoComplete="off" placeholder="nsec1…" value={nsec} onInput={(e) => setNsec(e.currentTarget.value)} />
            </label>
            <button class="btn" type="submit" disabled={busy || nsec.trim() === ''}>Use it</button>
          </form>
        </details>
        <details>
          <summary>Use a remote signer (NIP-46)</summary>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault()
              void run(() => session.signInWithBunker(bunker))
            }}
          >
            <label class="grow">
              <span class="sr-only">Remote signer address</span>
              <input autoComplete="off" placeholder="bunker://… or name@domain" value={bunker} onInput={(e) => setBunker(e.currentTarget.value)} />
            </label>
            <button class="btn" type="submit" disabled={busy || bunker.trim() === ''}>{busy ? 'Connecting…' : 'Connect'}</button>
          </form>
          <p class="muted small">Approve the request in your signer app; a window may open for it.</p>
        </details>
        {session.error.value && <p class="error" role="alert">{session.error.value}</p>}
        <button class="btn ghost block" type="button" onClick={onClose}>Cancel</button>
      </div>
    </div>
  )
}
