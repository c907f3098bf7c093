/** Placeholder for commands whose part has not landed yet: says so plainly and exits non-zero. */
export async function main(name: string, _argv: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  console.error(`relaycast ${name}: not available in this version yet`)
  return 1
}
