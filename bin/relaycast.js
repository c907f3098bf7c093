#!/usr/bin/env node
// Relaycast's command line. The code is TypeScript run through tsx's loader (the one way we run
// TypeScript on Node 20), so this file only registers the loader and hands over to cli.ts.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./cli.ts')
process.exitCode = await main(process.argv.slice(2), process.env)
