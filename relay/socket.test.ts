import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createWsTransport } from './socket.ts'
import type { Connection, Transport, TransportHandlers } from './socket.ts'

// The transport frames outgoing messages itself (ws-frame.ts); real ws clients read them here.
let transport: Transport | undefined
afterEach(async () => {
  await transport?.close()
  transport = undefined
})

/** A transport whose connections are handed to `onOpen`; resolves with its ws:// URL. */
async function serve(onOpen: (conn: Connection) => void, onMessage: TransportHandlers['message'] = () => undefined): Promise<string> {
  transport = createWsTransport(
    { open: onOpen, message: onMessage, close: () => undefined, http: async () => ({ status: 404, headers: {} }) },
    { maxPayload: 1 << 20, trustProxy: false, log: { error: () => undefined } },
  )
  return `ws://127.0.0.1:${await transport.listen(0, '127.0.0.1')}`
}

/** Connects and collects `count` text messages, then the close code if `untilClose`. */
function collect(url: string, count: number, untilClose = false): Promise<{ texts: string[]; code?: number }> {
  const ws = new WebSocket(url)
  const texts: string[] = []
  return new Promise((resolve, reject) => {
    ws.on('message', (data: Buffer, binary) => {
      if (binary) return reject(new Error('a binary frame'))
      texts.push(data.toString())
      if (texts.length === count && !untilClose) {
        ws.terminate()
        resolve({ texts })
      }
    })
    ws.on('close', (code) => resolve({ texts, code }))
    ws.on('error', reject)
  })
}

describe('ws transport', () => {
  it('delivers the messages of one tick in order, strings and bytes alike', async () => {
    const sent = ['["NOTICE","a"]', 'é😀'.repeat(50), 'x'.repeat(70_000), '']
    const url = await serve((conn) => {
      conn.send(sent[0])
      conn.send(Buffer.from(sent[1]))
      conn.send(sent[2])
      conn.send(new Uint8Array(0))
    })
    expect((await collect(url, sent.length)).texts).toEqual(sent)
  })

  it('hands one shared payload to many connections, each getting it whole', async () => {
    const payload = Buffer.from('["EVENT","chat",{"content":"gg"}]')
    const conns: Connection[] = []
    let ready: () => void
    const allOpen = new Promise<void>((resolve) => (ready = resolve))
    const url = await serve((conn) => {
      conns.push(conn)
      if (conns.length === 5) ready()
    })
    const got = Array.from({ length: 5 }, () => collect(url, 2))
    await allOpen
    for (const conn of conns) conn.send(payload)
    for (const conn of conns) conn.send(`["EOSE","${conn.id}"]`)
    const results = await Promise.all(got)
    for (const r of results) expect(r.texts[0]).toBe(payload.toString())
    expect(new Set(results.map((r) => r.texts[1])).size).toBe(5)
  })

  it('sends what was queued before a close, then the close code and reason', async () => {
    const url = await serve((conn) => {
      conn.send('["NOTICE","first"]')
      conn.send('["NOTICE","second"]')
      conn.close(4000, 'bye')
    })
    const { texts, code } = await collect(url, 2, true)
    expect(texts).toEqual(['["NOTICE","first"]', '["NOTICE","second"]'])
    expect(code).toBe(4000)
  })

  it('counts held messages as buffered, and drained() resolves once they are written', async () => {
    let result: { before: number; after: number } | undefined
    const done = new Promise<void>((resolve) => {
      void serve(async (conn) => {
        conn.send('y'.repeat(1000))
        const before = conn.bufferedAmount()
        await conn.drained()
        result = { before, after: conn.bufferedAmount() }
        resolve()
      }).then((url) => collect(url, 1))
    })
    await done
    expect(result!.before).toBeGreaterThanOrEqual(1000)
    expect(result!.after).toBe(0)
  })

  it('reads what clients send', async () => {
    const got: string[] = []
    let heard: () => void
    const all = new Promise<void>((resolve) => (heard = resolve))
    const url = await serve(
      () => undefined,
      (_conn, text) => {
        got.push(text)
        if (got.length === 2) heard()
      },
    )
    const ws = new WebSocket(url)
    await once(ws, 'open')
    ws.send('["REQ","a",{}]')
    ws.send('["CLOSE","a"]')
    await all
    ws.terminate()
    expect(got).toEqual(['["REQ","a",{}]', '["CLOSE","a"]'])
  })
})
