import { describe, expect, it } from 'vitest'
import { createClient } from './client.ts'
import type { Connection } from './socket.ts'
import { createTestLogger } from './test-harness.ts'

describe('client output', () => {
  it('drops a connection whose unsent output passes the cap, and sends nothing after', () => {
    let buffered = 0
    const sent: (string | Uint8Array)[] = []
    let terminated = 0
    const conn: Connection = {
      id: 1,
      ip: '10.0.0.1',
      host: 'x',
      send: (text) => void (sent.push(text), (buffered += text.length)),
      bufferedAmount: () => buffered,
      drained: async () => undefined,
      close: () => undefined,
      terminate: () => void terminated++,
    }
    const client = createClient(conn, { challenge: 'c', maxBufferedBytes: 100, log: createTestLogger() })
    client.sendRaw('x'.repeat(60))
    expect(terminated).toBe(0)
    expect(client.congested()).toBe(true) // past a quarter of the cap
    client.sendRaw('x'.repeat(60))
    expect(terminated).toBe(1)
    expect(client.closed).toBe(true)
    client.send(['NOTICE', 'more'])
    expect(sent.length).toBe(2)
  })
})
