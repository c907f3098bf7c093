import { useEffect, useState } from 'preact/hooks'
import type { ComponentChild, ComponentType } from 'preact'

/** Renders a component from a chunk loaded on first use; `fallback` until it arrives. */
export function Lazy({ load, fallback }: { load: () => Promise<ComponentType>; fallback?: ComponentChild }) {
  const [C, setC] = useState<ComponentType | undefined>(undefined)
  const [failed, setFailed] = useState<string | undefined>(undefined)
  useEffect(() => {
    let live = true
    load().then(
      (c) => live && setC(() => c),
      (err: unknown) => live && setFailed(err instanceof Error ? err.message : String(err)),
    )
    return () => void (live = false)
  }, [])
  if (failed) return <p class="page error" role="alert">This part of the app could not load ({failed}). Reload to try again.</p>
  return C ? <C /> : <>{fallback === undefined ? <p class="page muted" aria-busy="true">Loading…</p> : fallback}</>
}

/** The sign-in dialog, loaded when first opened (anonymous viewers never need it). */
export function SignInDialog({ onClose }: { onClose: () => void }) {
  return <Lazy fallback={null} load={() => import('./sign-in.tsx').then((m) => () => <m.SignIn onClose={onClose} />)} />
}
