// Code a configuration does not use is not loaded: the primary of --workers N (its supervisor and
// connection balancer) only with --workers, the upstream code (the HTTP client, the page parser,
// the file cache) only with --upstream, the upload code (busboy, the BLAKE2 hasher, the
// publisher) only when uploads are enabled. A server with none of them (the default) starts
// without compiling that code (docs/benchmarks.md, "Warm restart"). The real daemon runs with a
// module loader hook (node --import, through NODE_OPTIONS) that writes down every module it
// loads; with the option given, the same modules are loaded, which shows the hook sees them.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pathToFileURL } from 'node:url'
import { buildWheel } from '../helpers/distributions.js'
import { startServer } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const UPSTREAM_MODULES = [
  '/dist/upstream/upstream-index.js',
  '/dist/upstream/http-client.js',
  '/node_modules/htmlparser2/',
]
const PRIMARY_MODULES = ['/dist/daemon/cluster-supervisor.js', '/dist/daemon/cluster-balancer.js']
const UPLOAD_MODULES = ['/dist/upload/publisher.js', '/dist/upload/receive-form.js', '/node_modules/hash-wasm/']

/** Start the daemon with `args` and return the URLs of the modules it loaded until serving. */
async function loadedModules(t: TestContext, args: readonly string[]): Promise<string[]> {
  const root = await tempDir(t, 'eggserve-lazy-upstream-')
  const eggdir = join(root, 'eggs')
  const wheel = buildWheel({ name: 'alpha', version: '1.0' })
  await writeTree(eggdir, { [`alpha/${wheel.filename}`]: wheel.bytes })
  const record = join(root, 'loaded.txt')
  const hooks = join(root, 'hooks.mjs')
  await writeFile(
    hooks,
    `import { appendFileSync } from 'node:fs'
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(record)}, url + '\\n')
  return next(url, context)
}
`,
  )
  const register = join(root, 'register.mjs')
  await writeFile(
    register,
    `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`,
  )
  const server = await startServer(t, {
    eggdir,
    args: ['--cache-dir', join(root, 'cache'), '--hash-workers', '0', ...args],
    env: { NODE_OPTIONS: `--import ${pathToFileURL(register).href}` },
  })
  await server.stop()
  return (await readFile(record, 'utf8')).split('\n')
}

await test('without --upstream, uploads or --workers, none of their code is loaded', async (t) => {
  const loaded = await loadedModules(t, [])
  assert.ok(
    loaded.some((url) => url.endsWith('/dist/app.js')),
    'the hook sees the modules of the app',
  )
  for (const part of [...UPSTREAM_MODULES, ...UPLOAD_MODULES, ...PRIMARY_MODULES])
    assert.deepEqual(
      loaded.filter((url) => url.includes(part)),
      [],
    )
})

// Nothing is asked of the upstream before a request needs it.
const CONFIGURED: readonly { what: string; args: readonly string[]; parts: readonly string[] }[] = [
  {
    what: 'with --upstream, the upstream code',
    args: ['--upstream', 'http://127.0.0.1:9/simple/'],
    parts: UPSTREAM_MODULES,
  },
  { what: 'with uploads enabled, the upload code', args: ['--authenticate', '.'], parts: UPLOAD_MODULES },
  { what: 'with --workers 2, the code of the primary', args: ['--workers', '2'], parts: PRIMARY_MODULES },
]

for (const { what, args, parts } of CONFIGURED)
  await test(`${what} is loaded at start-up`, async (t) => {
    const loaded = await loadedModules(t, args)
    for (const part of parts)
      assert.ok(
        loaded.some((url) => url.includes(part)),
        `${part} is loaded`,
      )
  })
