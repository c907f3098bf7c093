/**
 * Imported (for its side-effect-free reachability only) by every lazily loaded page. The app's
 * entry is already running when a page chunk loads, so this evaluates nothing new; what it
 * changes is the build: esbuild then sees every shell module reachable from every page and keeps
 * the shell in one shared chunk instead of a dozen small ones that each gzip worse.
 */
import '../main.tsx'
