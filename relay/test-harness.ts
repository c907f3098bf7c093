/**
 * Test support for the relay's integration tests (imported by *.test.ts only): a relay on an
 * ephemeral port with a temporary data directory, a quiet logger that remembers errors, and a
 * raw WebSocket client that waits for messages instead of sleeping.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { createMemoryStore } from '../protocol/memory-store.ts'
import { loadConfig } from './config.ts'
import type { Config } from './config.ts'
import type { Logger } from './hooks.ts'
import { createRelay } from './relay.ts'
import type { Relay, RelayDeps } from './relay.ts'
import { adaptMemoryStore } from './store-port.ts'

export interface TestRelay {
  relay: Relay
  url: string
  port: number
  dataDir: string
  config: Config
  /** Everything logged with log.error, for asserting that nothing unexpected went wrong. */
  errors: unknown[][]
  stop(): Promise<void>
}

export function createTestLogger(): Logger & { errors: unknown[][] } {
  const errors: unknown[][] = []
  return { info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => void errors.push(args), errors }
}

/**
 * Starts a relay on 127.0.0.1, port 0. By default on the in-memory store; pass `lmdb: true`
 * for the real one. `overrides` patch the config; `deps` replace stages.
 */
export async function startTestRelay(
  overrides: Partial<Config> = {},
  deps: RelayDeps & { lmdb?: boolean } = {},
): Promise<TestRelay> {
  const dataDir = await mkdtemp(join(tmpdir(), 'relaycast-relay-'))
  const config: Config = { ...loadConfig({}, []), port: 0, host: '127.0.0.1', dataDir, ...overrides }
  const log = createTestLogger()
  const { lmdb, ...rest } = deps
  const store = lmdb ? undefined : adaptMemoryStore(createMemoryStore())
  const relay = await createRelay(config, { log, ...(store ? { store } : {}), ...rest })
  const port = await relay.listen()
  return {
    relay,
    url: relay.url,
    port,
    dataDir,
    config,
    errors: log.errors,
    async stop() {
      await relay.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

export type Message = [string, ...unknown[]]

export interface RawClient {
  ws: WebSocket
  /** The NIP-42 challenge the relay sent on connect. */
  challenge: string
  send(msg: unknown[] | string): void
  /** The first unread message matching `pred` (removed from the inbox), waiting if needed. */
  next(pred?: (m: Message) => boolean): Promise<Message>
  /** Resolves when the relay closes the connection, with the close code. */
  closed: Promise<number>
  close(): void
}

export async function connectRaw(url: string): Promise<RawClient> {
  const ws = new WebSocket(url)
  const inbox: Message[] = []
  const waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = []
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as Message
    const i = waiters.findIndex((w) => w.pred(msg))
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg)
    else inbox.push(msg)
  })
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const client: RawClient = {
    ws,
    challenge: '',
    send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    next(pred = () => true) {
      const i = inbox.findIndex(pred)
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0])
      return new Promise((resolve) => waiters.push({ pred, resolve }))
    },
    closed,
    close: () => ws.close(),
  }
  const auth = await client.next((m) => m[0] === 'AUTH')
  client.challenge = auth[1] as string
  return client
}

export const isVerb =
  (verb: string, id?: string) =>
  (m: Message): boolean =>
    m[0] === verb && (id === undefined || m[1] === id)
