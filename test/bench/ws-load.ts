/**
 * Load-generator pieces for the relay bench: connections, a pipelined sender that keeps a fixed
 * number of frames unanswered per connection, and request latency. Frames are matched by their
 * first bytes, so the generator does not parse what it does not need to.
 */
import WebSocket from 'ws'

export function openSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

/** `count` connections, at most `concurrency` handshakes at a time. */
export async function openSockets(url: string, count: number, concurrency = 100): Promise<WebSocket[]> {
  const sockets: WebSocket[] = []
  for (let i = 0; i < count; i += concurrency) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(concurrency, count - i) }, () => openSocket(url)))))
  }
  return sockets
}

/** Whether a frame is the relay message `verb` (`["VERB",…`), without decoding it. */
export function isVerb(data: Buffer, verb: string): boolean {
  if (data[0] !== 0x5b || data[1] !== 0x22) return false
  for (let i = 0; i < verb.length; i++) if (data[2 + i] !== verb.charCodeAt(i)) return false
  return data[2 + verb.length] === 0x22
}

/**
 * Sends `frames[i]` on `sockets[i]`, keeping `window` of them unanswered: each answer (a message
 * `isAnswer` accepts) lets the next frame go. Resolves with the seconds from the first send to
 * the last answer. `onAnswer` sees every answer (to check it).
 */
export function pipelined(
  sockets: WebSocket[],
  frames: string[][],
  window: number,
  isAnswer: (data: Buffer) => boolean,
  onAnswer: (data: Buffer) => void = () => undefined,
): Promise<number> {
  const start = performance.now()
  return new Promise((resolve, reject) => {
    let running = sockets.length
    sockets.forEach((ws, i) => {
      const mine = frames[i]
      let sent = 0
      let answered = 0
      const onMessage = (data: Buffer): void => {
        if (!isAnswer(data)) return
        answered++
        onAnswer(data)
        if (sent < mine.length) ws.send(mine[sent++])
        if (answered < mine.length) return
        ws.off('message', onMessage)
        ws.off('close', onClose)
        if (--running === 0) resolve((performance.now() - start) / 1000)
      }
      const onClose = (): void => reject(new Error(`connection ${i} closed after ${answered} of ${mine.length} answers`))
      ws.on('message', onMessage)
      ws.once('close', onClose)
      if (mine.length === 0 && --running === 0) resolve(0)
      while (sent < Math.min(window, mine.length)) ws.send(mine[sent++])
    })
  })
}

/**
 * Sends each REQ in turn (sub id `subId`, replacing the previous one) and times it until its
 * EOSE. Returns the milliseconds of each, and how many events came in all.
 */
export async function reqLatencies(ws: WebSocket, reqs: string[], subId: string): Promise<{ ms: number[]; events: number }> {
  const eose = Buffer.from(`["EOSE",${JSON.stringify(subId)}]`)
  const ms: number[] = []
  let events = 0
  let waiter: { resolve(): void; reject(err: Error): void } | undefined
  const onMessage = (data: Buffer): void => {
    if (isVerb(data, 'EVENT')) events++
    else if (data.equals(eose)) waiter?.resolve()
    else if (isVerb(data, 'CLOSED') || isVerb(data, 'NOTICE')) waiter?.reject(new Error(`query refused: ${data.toString()}`))
  }
  ws.on('message', onMessage)
  try {
    for (const req of reqs) {
      const start = performance.now()
      await new Promise<void>((resolve, reject) => {
        waiter = { resolve, reject }
        ws.send(req)
      })
      ms.push(performance.now() - start)
    }
  } finally {
    ws.off('message', onMessage)
  }
  return { ms, events }
}

/** The p-th percentile (0–100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
