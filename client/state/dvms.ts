import { signal } from '@preact/signals'
import type { Signal } from '@preact/signals'
import { getDvmAnnouncement } from '../../protocol/announce.ts'
import type { DvmAnnouncement } from '../../protocol/announce.ts'
import { KIND_HANDLER_INFO, KIND_TRANSCODE_REQUEST } from '../../protocol/kinds.ts'
import type { NostrEvent } from '../../protocol/types.ts'
import type { Pool } from './pool.ts'

/** Transcoders that announced themselves (31990, k=5311), newest announcement per node. */
export interface Transcoder extends DvmAnnouncement {
  pubkey: string
  announcedAt: number
}

export interface Transcoders {
  list: Signal<Transcoder[]>
  loading: Signal<boolean>
  apply(event: NostrEvent): void
  start(): () => void
}

export function createTranscoders(pool: Pool): Transcoders {
  const list = signal<Transcoder[]>([])
  const loading = signal(true)
  const apply = (e: NostrEvent): void => {
    const ann = getDvmAnnouncement(e)
    if (!ann) return
    const key = `${e.pubkey}:${ann.d}`
    const others = list.value.filter((t) => `${t.pubkey}:${t.d}` !== key)
    const have = list.value.find((t) => `${t.pubkey}:${t.d}` === key)
    if (have && have.announcedAt >= e.created_at) return
    list.value = [...others, { ...ann, pubkey: e.pubkey, announcedAt: e.created_at }].sort((a, b) => b.announcedAt - a.announcedAt)
  }
  return {
    list,
    loading,
    apply,
    start: () =>
      pool.subscribe([{ kinds: [KIND_HANDLER_INFO], '#k': [String(KIND_TRANSCODE_REQUEST)] }], { onevent: apply, oneose: () => void (loading.value = false) }),
  }
}
