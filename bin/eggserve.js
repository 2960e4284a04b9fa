#!/usr/bin/env node
// The command: runs the CLI compiled into dist/ by `npm run build` (`npm pack` builds it first,
// through the prepack script). Where dist/ is missing (a checkout never built) it says so in
// one line instead of Node's ERR_MODULE_NOT_FOUND stack trace.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = new URL('../dist/cli.js', import.meta.url)
if (existsSync(cli)) {
  const { main } = await import(cli.href)
  process.exitCode = await main(process.argv)
} else {
  process.stderr.write(
    `eggserve: cannot start: ${fileURLToPath(cli)} is missing (in a source checkout, run "npm run build" first)\n`,
  )
  process.exitCode = 1
}
