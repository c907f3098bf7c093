/**
 * A small cache in front of store lookups, for policies on the hot path: a hit answers
 * synchronously, a miss loads once however many callers wait for it. Entries are refreshed from
 * afterCommit (`refresh`), which always wins over a load still in flight, so a value read before
 * a commit never overwrites the value the commit made. Bounded: the oldest entry goes first.
 */
export interface LookupCache<V> {
  /** The cached value, or a promise of it on a miss. */
  get(key: string): V | Promise<V>
  /** A newer value, from a commit; ignored for keys nobody has asked about. */
  refresh(key: string, value: V): void
  /** Forgets a key whose value was removed (a NIP-09 deletion, a moderator's removal). */
  delete(key: string): void
  /** Forgets every key whose value came from this event id. */
  deleteByEventId(id: string): void
  readonly size: number
}

export interface LookupCacheOptions<V> {
  load(key: string): Promise<V>
  max: number
  /** The id of the event a value was read from, so deletions can invalidate it. */
  eventIdOf?(value: V): string | undefined
}

export function createLookupCache<V>(opts: LookupCacheOptions<V>): LookupCache<V> {
  const values = new Map<string, V>()
  const inflight = new Map<string, Promise<V>>()
  const keyById = new Map<string, string>()

  function put(key: string, value: V): void {
    forget(key)
    values.set(key, value)
    const id = opts.eventIdOf?.(value)
    if (id !== undefined) keyById.set(id, key)
    if (values.size > opts.max) forget(values.keys().next().value as string)
  }

  function forget(key: string): void {
    if (!values.has(key)) return
    const id = opts.eventIdOf?.(values.get(key) as V)
    if (id !== undefined && keyById.get(id) === key) keyById.delete(id)
    values.delete(key)
  }

  function remove(key: string): void {
    inflight.delete(key)
    forget(key)
  }

  return {
    get(key) {
      if (values.has(key)) return values.get(key) as V
      const loading = inflight.get(key)
      if (loading) return loading
      const p = opts.load(key).then(
        (value) => {
          if (inflight.get(key) === p) {
            inflight.delete(key)
            put(key, value)
          }
          return values.has(key) ? (values.get(key) as V) : value
        },
        (err: unknown) => {
          if (inflight.get(key) === p) inflight.delete(key)
          throw err
        },
      )
      inflight.set(key, p)
      return p
    },
    refresh(key, value) {
      if (!values.has(key) && !inflight.has(key)) return
      inflight.delete(key)
      put(key, value)
    },
    delete: remove,
    deleteByEventId(id) {
      const key = keyById.get(id)
      if (key !== undefined) remove(key)
    },
    get size() {
      return values.size
    },
  }
}
