/**
 * Signature checks on a worker thread: the native addon's batch call, off the relay's main
 * thread, so parsing, policies, the writer and fan-out run while a chunk is being verified.
 * The worker is a few lines of CommonJS evaluated in place (no TypeScript loader needed there);
 * chunks are answered in the order they were sent.
 */
import { Worker } from 'node:worker_threads'
import type { NostrEvent } from '../../protocol/types.ts'
import { TRIPLE, packTriple } from './pack.ts'

export interface VerifyThread {
  /** One result per event, like checkMany; rejects only if the worker failed. */
  checkManyAsync(events: readonly NostrEvent[]): Promise<boolean[]>
  /** Stops the worker; calls still waiting reject. */
  close(): Promise<void>
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const addon = require(workerData.path)
parentPort.on('message', ({ id, buf }) => {
  try {
    parentPort.postMessage({ id, out: addon.verifyBatch(new Uint8Array(buf)) })
  } catch (err) {
    parentPort.postMessage({ id, error: String(err) })
  }
})
`

interface Waiting {
  resolve(out: Uint8Array): void
  reject(err: Error): void
}

/** Starts a worker that loads the native addon at `nativePath` (see index.ts). */
export function createVerifyThread(nativePath: string): VerifyThread {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: nativePath } })
  // Never what keeps the process alive: the relay's close() ends it, and so does exit.
  worker.unref()
  const waiting = new Map<number, Waiting>()
  let nextId = 0
  let failure: Error | undefined

  const failAll = (err: Error): void => {
    failure = err
    for (const w of waiting.values()) w.reject(err)
    waiting.clear()
  }
  worker.on('message', (m: { id: number; out?: Uint8Array; error?: string }) => {
    const w = waiting.get(m.id)
    if (!w) return
    waiting.delete(m.id)
    if (m.out) w.resolve(m.out)
    else w.reject(new Error(`verify thread: ${m.error}`))
  })
  worker.on('error', (err) => failAll(new Error('verify thread failed', { cause: err })))
  worker.on('exit', (code) => failAll(new Error(`verify thread exited (code ${code})`)))

  return {
    checkManyAsync(events) {
      if (failure) return Promise.reject(failure)
      const buf = Buffer.alloc(events.length * TRIPLE)
      const wellFormed = events.map((e, i) => packTriple(e, buf, i * TRIPLE))
      const id = nextId++
      return new Promise<Uint8Array>((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        // Buffer.alloc gives the buffer its own ArrayBuffer: hand it over instead of copying.
        worker.postMessage({ id, buf: buf.buffer }, [buf.buffer])
      }).then((out) => wellFormed.map((ok, i) => ok && out[i] === 1))
    },
    async close() {
      worker.removeAllListeners('exit')
      await worker.terminate()
      failAll(new Error('verify thread closed'))
    },
  }
}
