/**
 * Token buckets by key (IP, pubkey): `burst` tokens, refilled at `perSecond`. Buckets that have
 * refilled completely hold no information, so they are forgotten, which bounds memory by the
 * number of keys active within the last `burst / perSecond` seconds.
 */
export interface RateLimiter {
  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean
  /** Keys currently tracked. */
  readonly size: number
}

interface Bucket {
  tokens: number
  at: number
}

const PRUNE_EVERY_MS = 60_000

export function createRateLimiter(perSecond: number, burst: number, nowMs: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, Bucket>()
  let prunedAt = nowMs()

  const refill = (b: Bucket, t: number): number => Math.min(burst, b.tokens + ((t - b.at) * perSecond) / 1000)

  function prune(t: number): void {
    prunedAt = t
    for (const [key, b] of buckets) if (refill(b, t) >= burst) buckets.delete(key)
  }

  return {
    take(key) {
      const t = nowMs()
      if (t - prunedAt >= PRUNE_EVERY_MS) prune(t)
      const b = buckets.get(key)
      if (!b) {
        buckets.set(key, { tokens: burst - 1, at: t })
        return burst >= 1
      }
      b.tokens = refill(b, t)
      b.at = t
      if (b.tokens < 1) return false
      b.tokens -= 1
      return true
    },
    get size() {
      return buckets.size
    },
  }
}
