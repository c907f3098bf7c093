import type { Log } from '../../ingest/types.ts'

/** A Log that keeps every line (message and fields) for assertions such as "the key is in no line". */
export function captureLog(echo = false): { log: Log; lines: string[]; text(): string } {
  const lines: string[] = []
  const log: Log = (level, message, fields) => {
    const line = `${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`
    lines.push(line)
    if (echo) console.error(line)
  }
  return { log, lines, text: () => lines.join('\n') }
}

/**
 * Records everything written through console.* and process.stdout/stderr until `restore()`, so a
 * test can assert that no library printed a secret behind our logger's back.
 */
export function captureConsole(): { text(): string; restore(): void } {
  const chunks: string[] = []
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const
  const saved = methods.map((m) => console[m])
  for (const m of methods) {
    const original = console[m]
    console[m] = (...args: unknown[]) => {
      chunks.push(args.map(String).join(' '))
      original.apply(console, args)
    }
  }
  const out = process.stdout.write
  const err = process.stderr.write
  const tap = (original: typeof out) =>
    function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'))
      return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest)
    }
  process.stdout.write = tap(out) as typeof out
  process.stderr.write = tap(err) as typeof err
  return {
    text: () => chunks.join('\n'),
    restore() {
      methods.forEach((m, i) => (console[m] = saved[i]))
      process.stdout.write = out
      process.stderr.write = err
    },
  }
}
