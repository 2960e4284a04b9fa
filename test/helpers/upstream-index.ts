// Real upstream indexes for the proxy tests: a second eggserve (bin/eggserve.js on its own
// folder), and a static PEP 503 tree (HTML only, as a plain web server offers it) served by
// Debian's nginx.
import { createHash } from 'node:crypto'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseUpstreamFile } from '../../src/upstream/config-file.js'
import { UpstreamIndex } from '../../src/upstream/upstream-index.js'
import { resolveUpstreamConfig } from '../../src/upstream/upstream-settings.js'
import { buildTestApp } from './build-app.js'
import type { BuiltDist } from './distributions.js'
import { writeDist } from './distributions.js'
import { startNginx, type NginxHandle } from './nginx.js'
import { startServer, type ServerHandle } from './spawn-server.js'
import { tempDir } from './temp-tree.js'

/** Projects of an upstream: folder name → its files. */
export type UpstreamProjects = Readonly<Record<string, readonly BuiltDist[]>>

/** A second eggserve serving `projects`, and the folder it serves (tests add files to it). */
export async function startUpstreamEggserve(
  t: TestContext,
  projects: UpstreamProjects,
): Promise<{ server: ServerHandle; eggdir: string }> {
  const eggdir = join(await tempDir(t, 'eggserve-upstream-'), 'eggs')
  await mkdir(eggdir, { recursive: true })
  for (const [folder, files] of Object.entries(projects)) {
    for (const file of files) await writeDist(join(eggdir, folder), file)
  }
  // Its own cache folder: the upstream must not share the proxy's cache.
  const server = await startServer(t, { eggdir, args: ['--cache-dir', 'none', '--hash-workers', '0'] })
  return { server, eggdir }
}

/** sha256 of some bytes, in hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * A static PEP 503 tree under nginx: /simple/<project>/index.html linking
 * /files/<project>/<file>#sha256=… (absolute paths, as a static mirror writes them), one
 * link with data-requires-python. Undefined when nginx is missing (the test was skipped).
 */
export async function startStaticUpstream(
  t: TestContext,
  projects: UpstreamProjects,
  options: { requiresPython?: string } = {},
): Promise<NginxHandle | undefined> {
  const root = await tempDir(t, 'eggserve-static-upstream-')
  for (const [folder, files] of Object.entries(projects)) {
    const project = folder.toLowerCase().replace(/[-_.]+/g, '-')
    const links = files.map((file) => {
      const attribute =
        options.requiresPython === undefined
          ? ''
          : ` data-requires-python="${options.requiresPython.replaceAll('<', '&lt;').replaceAll('>', '&gt;')}"`
      return `<a href="/files/${project}/${file.filename}#sha256=${sha256Hex(file.bytes)}"${attribute}>${file.filename}</a><br>`
    })
    await mkdir(join(root, 'simple', project), { recursive: true })
    await writeFile(
      join(root, 'simple', project, 'index.html'),
      `<!DOCTYPE html>\n<html><body>\n${links.join('\n')}\n</body></html>\n`,
    )
    for (const file of files) await writeDist(join(root, 'files', project), file)
  }
  return startNginx(t, {
    server: `location / { root ${root}; types { text/html html; } default_type application/octet-stream; }`,
  })
}

/** The eggserve under test: `eggdir`, with `--upstream` for each URL, its cache in `cacheDir`. */
export async function startWithUpstreams(
  t: TestContext,
  options: { eggdir: string; cacheDir: string; upstreams: readonly string[]; args?: readonly string[] },
): Promise<ServerHandle> {
  await mkdir(options.eggdir, { recursive: true })
  return startServer(t, {
    eggdir: options.eggdir,
    args: [
      '--cache-dir',
      options.cacheDir,
      '--hash-workers',
      '0',
      ...options.upstreams.flatMap((url) => ['--upstream', `${url}/simple/`]),
      ...(options.args ?? []),
    ],
  })
}

/** The files in `dir` (one level: a project's cache folder), or [] when it does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    // Not recursive: Node 20's recursive readdir with file types has missed entries.
    const entries = await readdir(dir, { withFileTypes: true })
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name)
      .sort()
  } catch {
    return []
  }
}

/**
 * An app (for app.inject) whose one upstream is `<upstreamUrl>/simple/`, with `table` added to
 * its [[upstream]] table of a configuration file, an empty local eggdir and the clock `now`.
 */
export async function appWithUpstreamTable(
  t: TestContext,
  options: { readonly upstreamUrl: string; readonly table: string; readonly now: () => number },
): Promise<FastifyInstance> {
  const file = parseUpstreamFile(
    `[[upstream]]\nurl = "${options.upstreamUrl}/simple/"\n${options.table}`,
    'eggserve.toml',
    {
      env: {},
      readSecret: () => {
        throw new Error('no password files here')
      },
    },
  )
  const cacheDir = await tempDir(t, 'eggserve-upstream-cache-')
  const { app } = await buildTestApp(t, {
    root: await tempDir(t, 'eggserve-upstream-local-'),
    upstream: (index, log) =>
      new UpstreamIndex({ index, config: resolveUpstreamConfig({}, {}, file), cacheDir, log, now: options.now }),
  })
  return app
}
