import { useState } from 'preact/hooks'
import { npubEncode } from 'nostr-tools/nip19'
import { useApp } from './context.ts'
import { SignInDialog } from './lazy.tsx'

export function Nav() {
  const { session, profiles } = useApp()
  const [open, setOpen] = useState(false)
  const pubkey = session.pubkey.value
  const name = pubkey ? profiles.get(pubkey).value.name : undefined
  return (
    <header class="nav">
      <a class="brand" href="/" data-testid="nav-home" aria-label="Relaycast home">
        <span class="dot" aria-hidden="true" />
        Relaycast
      </a>
      <nav aria-label="Main">
        <a class="btn primary small" href="/go-live" data-testid="nav-go-live">Go live</a>
        <a class="btn ghost small" href="/settings" data-testid="nav-settings" aria-label="Settings">
          <span aria-hidden="true">⚙</span>
          <span class="wide-only"> Settings</span>
        </a>
        {pubkey ? (
          <a class="who" href="/settings" data-testid="signed-in-as" title={npubEncode(pubkey)}>
            {name ?? `${npubEncode(pubkey).slice(0, 12)}…`}
          </a>
        ) : (
          <button class="btn small" type="button" data-testid="sign-in" onClick={() => setOpen(true)}>Sign in</button>
        )}
      </nav>
      {open && !pubkey && <SignInDialog onClose={() => setOpen(false)} />}
    </header>
  )
}
