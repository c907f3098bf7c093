import { useApp } from './context.ts'
import { shortKey } from '../state/profiles.ts'

/** Avatar and name of a pubkey from its kind 0 (a coloured initial until it loads). */
export function Host({ pubkey, size = 28 }: { pubkey: string; size?: number }) {
  const { profiles } = useApp()
  const p = profiles.get(pubkey).value
  const name = p.name ?? shortKey(pubkey)
  return (
    <span class="host">
      <Avatar pubkey={pubkey} picture={p.picture} name={name} size={size} />
      <span class="host-name">{name}</span>
    </span>
  )
}

export function Avatar({ pubkey, picture, name, size }: { pubkey: string; picture?: string | undefined; name: string; size: number }) {
  const style = { width: `${size}px`, height: `${size}px`, background: `hsl(${parseInt(pubkey.slice(0, 4), 16) % 360} 45% 35%)` }
  return picture ? (
    <img class="avatar" src={picture} alt="" width={size} height={size} loading="lazy" referrerpolicy="no-referrer" style={style} />
  ) : (
    <span class="avatar" aria-hidden="true" style={style}>{name.slice(0, 1).toUpperCase()}</span>
  )
}
