// A real install: the tarball `npm pack` makes, installed offline with `npm install -g --prefix`,
// is a working eggserve with the dependency tree the tests ran against, and pip installs from it.
// npm and the installed command run on the Node running this file, so `npm run test:node` checks
// each supported Node: no EBADENGINE, and no warning at start-up, even with --pending-deprecation
// (which turns Node's documentation-only deprecations into warnings too).
// Also: the command says in one line, without a stack trace, when dist/ was never built.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { startMoto } from '../helpers/moto.js'
import { listenForNotifications } from '../helpers/notify-socket.js'
import { installedEnv, packAndInstall, pathWithThisNode } from '../helpers/packed-install.js'
import { createVenv, output } from '../helpers/python.js'
import { binPath, childEnv, repoRoot, runProcess, startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

interface LockEntry {
  readonly version?: string
  readonly dev?: boolean
  readonly optional?: boolean
  readonly os?: readonly string[]
  readonly cpu?: readonly string[]
}

/** An optional package for another platform (koffi's prebuilt binaries): npm installs only this one's. */
function otherPlatform(entry: LockEntry): boolean {
  return (
    entry.optional === true &&
    ((entry.os !== undefined && !entry.os.includes(process.platform)) ||
      (entry.cpu !== undefined && !entry.cpu.includes(process.arch)))
  )
}

const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string }

/** Documentation-only deprecations become warnings too (https://nodejs.org/api/cli.html#--pending-deprecation). */
const PENDING_DEPRECATION = '--pending-deprecation'

/** The AWS SDK's warning on Node older than 22, as printed by Node (one block per process or worker thread). */
const SDK_NODE_WARNING =
  /\(node:\d+\) Warning: NodeVersionSupportWarning: The AWS SDK for JavaScript \(v3\)\n(?:.*\n)*?More information can be found at: \S+\n(?:\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n)?/

/** `node_modules/a/node_modules/b` → version, for every package installed under `dir`. */
async function installedTree(dir: string, base = ''): Promise<Map<string, string>> {
  const tree = new Map<string, string>()
  const modules = join(dir, 'node_modules')
  const names: string[] = []
  for (const entry of await readdir(modules, { withFileTypes: true }).catch(() => [])) {
    if (entry.name.startsWith('.')) continue // .bin, .package-lock.json
    if (!entry.name.startsWith('@')) names.push(entry.name)
    else for (const scoped of await readdir(join(modules, entry.name))) names.push(`${entry.name}/${scoped}`)
  }
  for (const name of names) {
    const key = `${base}node_modules/${name}`
    const { version } = JSON.parse(await readFile(join(modules, name, 'package.json'), 'utf8')) as { version: string }
    tree.set(key, version)
    for (const [nested, nestedVersion] of await installedTree(join(modules, name), `${key}/`))
      tree.set(nested, nestedVersion)
  }
  return tree
}

await test('the packed tarball installs into a prefix, runs, serves and pip installs from it', async (t) => {
  const installed = await packAndInstall(t)
  if (installed === undefined) return

  await t.test('the tarball holds the built code, the license, the lock file and the unit; no sources or tests', () => {
    for (const file of [
      'bin/eggserve.js',
      'dist/cli.js',
      'dist/daemon.js',
      'LICENSE',
      'README.md',
      'package.json',
      'npm-shrinkwrap.json',
      'contrib/systemd/eggserve.service',
    ]) {
      assert.ok(installed.files.includes(file), `${file} is not in the tarball`)
    }
    for (const file of installed.files) assert.doesNotMatch(file, /^(src|test|scripts)\//)
    assert.ok(installed.files.includes('node_modules/fastify/package.json'), 'the dependencies are bundled')
    // koffi's prebuilt binary for this platform, with which the notifications go from eggserve's
    // own process (docs/systemd.md).
    assert.ok(
      installed.files.includes(`node_modules/@koromix/koffi-${process.platform}-${process.arch}/package.json`),
      "koffi's binary for this platform is bundled",
    )
    assert.ok(
      installed.files.some((file) => file.startsWith('ui-assets/')),
      "the browse UI's assets are packed",
    )
    // The README's links into docs/ (and the screenshots) work in an installed copy too.
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
    const linked = [...readme.matchAll(/\]\(((?:docs|contrib)\/[^)#\s]+)/g)].map((match) => match[1] ?? '')
    assert.ok(linked.length > 0, 'the README links into docs/')
    for (const file of linked)
      assert.ok(installed.files.includes(file), `${file}, linked from the README, is not in the tarball`)
  })

  await t.test('npm pack and npm install printed no warning (no EBADENGINE, nothing deprecated)', () => {
    for (const output of [installed.packOutput, installed.installOutput]) {
      assert.doesNotMatch(output, /EBADENGINE|deprecated|npm warn/i, output)
    }
    for (const file of installed.files) assert.ok(!file.split('/').includes('..'), file)
  })

  await t.test('the installed dependency tree is the one npm-shrinkwrap.json locks (the tested one)', async () => {
    const lock = JSON.parse(await readFile(join(repoRoot, 'npm-shrinkwrap.json'), 'utf8')) as {
      packages: Record<string, LockEntry>
    }
    const expected = new Map<string, string>()
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path !== '' && entry.dev !== true && !otherPlatform(entry) && entry.version !== undefined)
        expected.set(path, entry.version)
    }
    const actual = await installedTree(installed.packageDir)
    assert.ok(expected.size > 0)
    assert.deepEqual(Object.fromEntries([...actual].sort()), Object.fromEntries([...expected].sort()))
  })

  await t.test('the installed command runs on this Node and prints its version, and nothing on stderr', async (st) => {
    // A --require'd probe records which Node ran it: the installed command's `#!/usr/bin/env
    // node` found this one first on PATH.
    const dir = await tempDir(st, 'eggserve-which-node-')
    const probe = join(dir, 'which-node.cjs')
    await writeFile(
      probe,
      "require('node:fs').writeFileSync(process.env.WHICH_NODE_OUT, process.version + ' ' + process.execPath)\n",
    )
    const result = await runProcess(installed.bin, ['--version'], {
      env: installedEnv({
        NODE_OPTIONS: `${PENDING_DEPRECATION} --require=${probe}`,
        WHICH_NODE_OUT: join(dir, 'ran-on'),
      }),
    })
    assert.equal(result.code, 0, output(result))
    assert.equal(result.stdout.trim(), pkg.version)
    assert.equal(result.stderr, '')
    assert.equal(await readFile(join(dir, 'ran-on'), 'utf8'), `${process.version} ${process.execPath}`)
  })

  await t.test('the installed command serves an eggdir, and pip installs from it', async (st) => {
    const venv = await createVenv(st)
    if (venv === undefined) return
    const root = await tempDir(st, 'eggserve-installed-')
    const eggdir = join(root, 'eggs')
    await writeDist(
      join(eggdir, 'packed-demo'),
      buildWheel({ name: 'packed-demo', version: '1.0', moduleSource: "KIND = 'from the installed copy'\n" }),
    )
    const server = await startServer(st, {
      eggdir,
      executable: installed.bin,
      cwd: root,
      env: { PATH: pathWithThisNode(), NODE_OPTIONS: PENDING_DEPRECATION },
    })
    const target = join(root, 'target')
    const result = await venv.pip([
      'install',
      '--retries',
      '0',
      '--progress-bar',
      'off',
      '--target',
      target,
      '--index-url',
      `${server.url}/simple/`,
      'packed-demo==1.0',
    ])
    assert.equal(result.code, 0, output(result))
    assert.match(result.stdout, /Successfully installed packed-demo-1\.0/, output(result))
    const probe = await venv.run(['-c', 'import packed_demo; print(packed_demo.KIND)'], { env: { PYTHONPATH: target } })
    assert.equal(probe.code, 0, output(probe))
    assert.equal(probe.stdout.trim(), 'from the installed copy')
    // pip asked the installed daemon (its access log has the request).
    assert.ok(
      server.lines.some((line) => line.msg === 'request' && line.url === '/simple/packed-demo/'),
      JSON.stringify(server.lines),
    )
    // Nothing deprecated (nor any other warning) from start-up to serving pip's requests.
    assert.equal(server.stderr, '')
  })

  await t.test(
    "the installed command sends systemd's notifications from its own process (koffi is bundled)",
    async (st) => {
      const root = await tempDir(st, 'eggserve-installed-notify-')
      const notify = await listenForNotifications(st, root)
      if (notify === undefined) return
      const eggdir = join(root, 'eggs')
      await mkdir(eggdir)
      const server = await startServer(st, {
        eggdir,
        executable: installed.bin,
        cwd: root,
        env: { PATH: pathWithThisNode(), NOTIFY_SOCKET: notify.address },
      })
      await notify.waitFor((message) => message.startsWith('READY=1'))
      assert.equal(await server.stop(), 0)
      await notify.waitFor((message) => message === 'STOPPING=1')
      // From the main process, not through the systemd-notify fallback (no warning, no BARRIER=1).
      assert.deepEqual(new Set(notify.senders), new Set([server.process.pid]), JSON.stringify(notify.messages))
      assert.equal(notify.messages.includes('BARRIER=1'), false)
      assert.deepEqual(
        server.lines.filter((line) => line.component === 'systemd-notify'),
        [],
      )
    },
  )

  await t.test(
    "with --storage s3://, the installed command starts and serves without a warning (on Node 20: only the AWS SDK's)",
    async (st) => {
      const moto = await startMoto(st)
      if (moto === undefined) return
      const bucket = await moto.createBucket()
      const wheel = buildWheel({ name: 'packed-s3', version: '1.0', moduleSource: "KIND = 's3'\n" })
      await moto.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `pypi/packed-s3/${wheel.filename}`, Body: wheel.bytes }),
      )
      const root = await tempDir(st, 'eggserve-installed-s3-')
      // The SDK's own switch is set to "false": a developer's "true" must not hide the warning here.
      const server = await startServer(st, {
        args: ['--storage', `s3://${bucket}/pypi`, '--s3-path-style'],
        executable: installed.bin,
        cwd: root,
        env: {
          ...moto.env(),
          PATH: pathWithThisNode(),
          NODE_OPTIONS: PENDING_DEPRECATION,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false',
        },
      })
      // The page needs the wheel's digest: read from the bucket, by the hashing worker threads.
      const page = await fetch(`${server.url}/simple/packed-s3/`)
      assert.equal(page.status, 200)
      assert.match(await page.text(), new RegExp(`${wheel.filename.replaceAll('.', '\\.')}#sha256=[0-9a-f]{64}`))
      assert.equal(await server.stop(), 0)
      const major = Number(process.versions.node.split('.')[0])
      if (major >= 22) {
        assert.equal(server.stderr, '')
      } else {
        // AWS SDK for JavaScript v3 releases after early January 2027 require Node 22; until then
        // it says so once per process (and per worker thread) on older Node, with this text
        // (@aws-sdk/core emitWarningIfUnsupportedVersion). It is the only thing on stderr.
        assert.match(server.stderr, SDK_NODE_WARNING)
        assert.equal(server.stderr.replace(new RegExp(SDK_NODE_WARNING.source, 'g'), ''), '', server.stderr)
      }
    },
  )
})

await test('without dist/, the command says so in one line and exits 1 (no stack trace)', async (t) => {
  // The same bin/eggserve.js in a folder with no dist/ beside it: a checkout never built.
  const root = await tempDir(t, 'eggserve-unbuilt-')
  await mkdir(join(root, 'bin'))
  await copyFile(binPath, join(root, 'bin', 'eggserve.js'))
  const result = await runProcess(process.execPath, [join(root, 'bin', 'eggserve.js'), '--version'], {
    env: childEnv(),
  })
  assert.equal(result.code, 1, output(result))
  assert.equal(result.stdout, '')
  assert.equal(
    result.stderr,
    `eggserve: cannot start: ${join(root, 'dist', 'cli.js')} is missing (in a source checkout, run "npm run build" first)\n`,
  )
})
