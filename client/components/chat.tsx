import { useEffect, useRef, useState } from 'preact/hooks'
import type { Chat, ChatItem, ReportType } from '../state/chat.ts'
import { REPORT_TYPES } from '../state/chat.ts'
import { shortKey } from '../state/profiles.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import { useApp } from './context.ts'
import { Avatar } from './host.tsx'
import { SignInDialog } from './lazy.tsx'

export interface Moderation {
  mute(pubkey: string): void
  remove(event: NostrEvent): void
  /** Pins the message, or unpins it when it is the pinned one. */
  pin(event: NostrEvent): void
  pinned: string | undefined
  muted: Set<string>
}

const REACTIONS = ['❤️', '🔥', '😂', '👏']

export function ChatPanel({ chat, enabled, ended, moderation }: { chat: Chat; enabled: boolean; ended?: boolean; moderation?: Moderation }) {
  const { session } = useApp()
  const [open, setOpen] = useState(true)
  const [text, setText] = useState('')
  const [signIn, setSignIn] = useState(false)
  const list = useRef<HTMLOListElement>(null)
  const stick = useRef(true)
  const messages = chat.messages.value
  useEffect(() => {
    const el = list.current
    if (el && stick.current) el.scrollTop = el.scrollHeight
  }, [messages.length, open])
  const pinned = chat.pinned.value
  const replyTo = chat.replyTo.value
  const quote = chat.quote.value

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (!session.signedIn.value) return setSignIn(true)
    if (await chat.send(text)) {
      setText('')
      stick.current = true
    }
  }

  return (
    <aside class={`chat ${open ? '' : 'collapsed'}`} data-testid="chat-panel" aria-label="Chat">
      <div class="chat-head">
        <h2>Chat</h2>
        <button class="btn ghost small" type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? 'Hide' : 'Show'}
        </button>
      </div>
      {open && (
        <>
          {pinned && (
            <div class="pinned" aria-label="Pinned message">
              📌 <Line item={pinned} />
            </div>
          )}
          <ol
            class="chat-list"
            ref={list}
            aria-live="polite"
            onScroll={(e) => {
              const el = e.currentTarget
              stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40
            }}
          >
            {messages.length === 0 && <li class="muted center">{enabled ? 'No messages yet. Say hi!' : 'Chat is off for this stream.'}</li>}
            {messages.map((item) => (
              <Message key={item.event.id} item={item} chat={chat} moderation={moderation} />
            ))}
          </ol>
          {chat.error.value && (
            <p class="chat-error" data-testid="chat-error" role="alert">
              {chat.error.value}
            </p>
          )}
          {enabled && !ended ? (
            <form class="chat-form" onSubmit={submit}>
              {(replyTo || quote) && (
                <p class="replying small">
                  {replyTo ? 'Replying to' : 'Quoting'} “{(replyTo ?? quote)!.content.slice(0, 60)}”
                  <button class="link" type="button" onClick={() => ((chat.replyTo.value = undefined), (chat.quote.value = undefined))}>cancel</button>
                </p>
              )}
              <label class="grow">
                <span class="sr-only">Message</span>
                <input
                  data-testid="chat-input"
                  value={text}
                  maxLength={2000}
                  placeholder={session.signedIn.value ? 'Say something…' : 'Sign in to chat'}
                  onInput={(e) => setText(e.currentTarget.value)}
                />
              </label>
              <button class="btn primary" type="submit" data-testid="chat-send" disabled={chat.sending.value || (session.signedIn.value && text.trim() === '')}>
                Send
              </button>
            </form>
          ) : (
            <p class="muted small center">{ended ? 'The stream has ended.' : 'The host turned chat off.'}</p>
          )}
        </>
      )}
      {signIn && <SignInDialog onClose={() => setSignIn(false)} />}
    </aside>
  )
}

function Line({ item }: { item: ChatItem }) {
  const { profiles } = useApp()
  const p = profiles.get(item.event.pubkey).value
  return (
    <>
      <strong class="who-name">{p.name ?? shortKey(item.event.pubkey)}</strong> <span class="text">{item.message.content}</span>
    </>
  )
}

function Message({ item, chat, moderation }: { item: ChatItem; chat: Chat; moderation?: Moderation | undefined }) {
  const { profiles, session } = useApp()
  const [menu, setMenu] = useState(false)
  const p = profiles.get(item.event.pubkey).value
  const name = p.name ?? shortKey(item.event.pubkey)
  const find = (id: string | undefined) => (id ? chat.messages.value.find((m) => m.event.id === id) : undefined)
  const replyTarget = find(item.message.replyTo?.id)
  const quoted = find(item.message.quote?.ref)
  // A quote is written as "text\nnostr:<id>" for other clients; here it shows as a box instead.
  const text = quoted ? item.message.content.replace(/\s*nostr:[0-9a-f]{64}\s*$/, '') : item.message.content
  const act = (f: () => void) => () => {
    setMenu(false)
    if (!session.signedIn.value) {
      chat.error.value = 'Sign in first.'
      return
    }
    f()
  }
  return (
    <li class="msg" data-testid="chat-message" data-pubkey={item.event.pubkey} data-id={item.event.id}>
      <Avatar pubkey={item.event.pubkey} picture={p.picture} name={name} size={22} />
      <div class="msg-body">
        {replyTarget && <p class="reply-ref small muted">↪ {replyTarget.message.content.slice(0, 80)}</p>}
        <strong class="who-name">{name}</strong> <span class="text">{text}</span>
        {quoted && <blockquote class="quote small">{quoted.message.content.slice(0, 140)}</blockquote>}
        {item.reactions.size > 0 && (
          <span class="reactions">
            {[...item.reactions].map(([emoji, who]) => (
              <span class="reaction" key={emoji}>{emoji} {who.size}</span>
            ))}
          </span>
        )}
        {menu && (
          <div class="msg-actions" role="group" aria-label="Message actions">
            {REACTIONS.map((r) => (
              <button key={r} class="btn ghost small" type="button" aria-label={`React ${r}`} onClick={act(() => void chat.react(item.event, r))}>{r}</button>
            ))}
            <button class="btn ghost small" type="button" onClick={act(() => ((chat.replyTo.value = item.event), (chat.quote.value = undefined)))}>Reply</button>
            <button class="btn ghost small" type="button" onClick={act(() => ((chat.quote.value = item.event), (chat.replyTo.value = undefined)))}>Quote</button>
            <label class="small">
              <span class="sr-only">Report</span>
              <select onChange={(e) => e.currentTarget.value && act(() => void chat.report(item.event, e.currentTarget.value as ReportType))()}>
                <option value="">Report…</option>
                {REPORT_TYPES.map((t) => (
                  <option key={t} value={t}>{t}</option>
                ))}
              </select>
            </label>
          </div>
        )}
      </div>
      <div class="msg-tools">
        {moderation && (
          <>
            <button class="btn ghost small" type="button" data-testid="chat-mute" disabled={moderation.muted.has(item.event.pubkey)} onClick={() => moderation.mute(item.event.pubkey)} aria-label={`Mute ${name}`}>
              {moderation.muted.has(item.event.pubkey) ? 'Muted' : 'Mute'}
            </button>
            <button class="btn ghost small" type="button" data-testid="chat-pin" aria-pressed={moderation.pinned === item.event.id} onClick={() => moderation.pin(item.event)}>
              {moderation.pinned === item.event.id ? 'Unpin' : 'Pin'}
            </button>
            <button class="btn ghost small" type="button" data-testid="chat-delete" onClick={() => moderation.remove(item.event)} aria-label="Delete message">
              Delete
            </button>
          </>
        )}
        <button class="btn ghost small" type="button" aria-expanded={menu} aria-label="More actions" onClick={() => setMenu(!menu)}>⋯</button>
      </div>
    </li>
  )
}
