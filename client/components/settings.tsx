import './shell-link.ts'
import { useState } from 'preact/hooks'
import { KIND_METADATA } from '../../protocol/kinds.ts'
import { buildProfileUpdate } from '../state/profiles.ts'
import { describeRefusal } from '../state/refusal.ts'
import { npubEncode } from 'nostr-tools/nip19'
import { useApp } from './context.ts'

export function SettingsPage() {
  const { settings, session } = useApp()
  const [text, setText] = useState(settings.relays.value.join('\n'))
  const [saved, setSaved] = useState<string | undefined>(undefined)
  const [problem, setProblem] = useState<string | undefined>(undefined)
  const [nsec, setNsec] = useState<string | undefined>(undefined)
  const pubkey = session.pubkey.value
  return (
    <div class="page">
      <h1>Settings</h1>
      <section class="panel" aria-labelledby="relays-title">
        <h2 id="relays-title">Relays</h2>
        <form
          class="form"
          onSubmit={(e) => {
            e.preventDefault()
            const err = settings.setRelays(text.split(/[\s,]+/))
            setProblem(err)
            setSaved(err ? undefined : 'Saved. New subscriptions use these relays.')
          }}
        >
          <label class="field">
            <span>One relay per line (the first is where your streams and chat go)</span>
            <textarea data-testid="settings-relays" value={text} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} />
          </label>
          <div class="row">
            <button class="btn primary" type="submit">Save relays</button>
            <button class="btn ghost" type="button" onClick={() => (settings.reset(), setText(settings.relays.value.join('\n')), setSaved('Back to this site’s relay.'))}>
              Use this site’s relay
            </button>
          </div>
          {problem && <p class="error" role="alert">{problem}</p>}
          {saved && <p class="muted" role="status">{saved}</p>}
        </form>
      </section>
      <section class="panel" aria-labelledby="account-title">
        <h2 id="account-title">Account</h2>
        {pubkey ? (
          <>
            <p>
              Signed in as <code>{npubEncode(pubkey)}</code> ({session.method.value === 'nip07' ? 'browser extension' : session.method.value === 'nip46' ? 'remote signer' : 'key kept in this browser'}).
            </p>
            {session.method.value === 'local' && (
              <>
                <p class="warn small">Your secret key controls your identity. Anyone who sees it can post as you. Store it in a password manager.</p>
                {nsec ? (
                  <p>
                    <code data-testid="settings-nsec">{nsec}</code>
                  </p>
                ) : (
                  <button class="btn" type="button" data-testid="settings-export" onClick={() => void session.exportLocalKey().then(setNsec)}>
                    Show my secret key (nsec)
                  </button>
                )}
              </>
            )}
            <ProfileForm pubkey={pubkey} />
            <p>
              <button class="btn danger" type="button" data-testid="sign-out" onClick={() => (session.signOut(), setNsec(undefined))}>
                Sign out
              </button>
            </p>
            {session.method.value === 'local' && <p class="muted small">Signing out keeps the key in this browser, so signing in again with “key kept in this browser” brings it back.</p>}
          </>
        ) : (
          <p>You are watching anonymously. Use “Sign in” at the top to chat or go live.</p>
        )}
      </section>
    </div>
  )
}

/** Name and picture (kind 0), so chat and stream cards show a name instead of a key. */
function ProfileForm({ pubkey }: { pubkey: string }) {
  const { profiles, pool, session } = useApp()
  const current = profiles.get(pubkey).value
  const [name, setName] = useState(current.name ?? '')
  const [picture, setPicture] = useState(current.picture ?? '')
  const [note, setNote] = useState<string | undefined>(undefined)
  const save = async (e: Event): Promise<void> => {
    e.preventDefault()
    setNote('Saving…')
    try {
      const [latest] = (await pool.query([{ kinds: [KIND_METADATA], authors: [pubkey] }], { maxWaitMs: 3000 })).sort((a, b) => b.created_at - a.created_at)
      const event = await session.sign(buildProfileUpdate(latest, { name, picture }, Math.floor(Date.now() / 1000)))
      const outcome = await pool.publish(event)
      if (!outcome.ok) return setNote(describeRefusal(outcome.refused[0]?.reason ?? ''))
      profiles.apply(event)
      setNote('Saved.')
    } catch (err) {
      setNote(err instanceof Error ? err.message : String(err))
    }
  }
  return (
    <form class="form" onSubmit={(e) => void save(e)}>
      <h3>Profile</h3>
      <label class="field">
        <span>Display name</span>
        <input data-testid="settings-name" maxLength={80} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Picture URL</span>
        <input data-testid="settings-picture" type="url" placeholder="https://…" value={picture} onInput={(e) => setPicture(e.currentTarget.value)} />
      </label>
      <p class="row">
        <button class="btn" type="submit">Save profile</button>
        {note && <span class="muted" role="status">{note}</span>}
      </p>
    </form>
  )
}
