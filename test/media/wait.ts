import { readFile } from 'node:fs/promises'

/**
 * Polls `check` until it returns something other than undefined/false, or fails after `timeoutMs`
 * with `what` in the message. For files and external processes that have no event to wait on.
 */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** Resolves with the file's text once `accept` likes it. */
export function waitForFile(path: string, accept: (text: string) => boolean = () => true, timeoutMs = 20_000): Promise<string> {
  return waitFor(path, async () => {
    const text = await readFile(path, 'utf8').catch(() => undefined)
    return text !== undefined && accept(text) ? text : undefined
  }, timeoutMs)
}

/** Resolves on the first call of the returned callback whose argument passes `accept`. */
export function nextCall<T>(accept: (value: T) => boolean = () => true, timeoutMs = 20_000): { fn: (value: T) => void; promise: Promise<T> } {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)))
  const timer = setTimeout(() => reject(new Error(`no matching call within ${timeoutMs} ms`)), timeoutMs)
  return {
    promise,
    fn: (value) => {
      if (!accept(value)) return
      clearTimeout(timer)
      resolve(value)
    },
  }
}
