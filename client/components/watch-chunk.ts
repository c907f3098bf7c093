import './shell-link.ts'

/**
 * The watch page's code as ONE lazily loaded chunk: the page itself, the player, chat and the
 * stream view. The streamer's dashboard reuses the same pieces, but through this module (a dynamic
 * import), never statically: a module reached from two lazy routes is split by esbuild into small
 * shared chunks, and the watch page then loaded seven files that gzip ≈1.3 kB worse than one.
 */
export { Watch } from './watch.tsx'
export { Player } from './player.tsx'
export { ChatPanel } from './chat.tsx'
export { createChat } from '../state/chat.ts'
export { createStreamView } from '../state/stream.ts'
