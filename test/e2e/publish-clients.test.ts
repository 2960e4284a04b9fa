// Real publishing clients against the real daemon: Debian's twine, poetry and pdm upload with
// a password file made by htpasswd -B, and pip installs what they uploaded, hashes checked.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildSdist, buildWheel, writeDist, type BuiltDist } from '../helpers/distributions.js'
import { createVenv, installHashed, isolatedEnv, output, pipRunFlags } from '../helpers/python.js'
import { runProcess, startServer, type RunResult, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { pyenvPython, pyenvVersionsDir } from '../helpers/clients/environment.js'
import { needTool, skipOrFail } from '../helpers/tools.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const PIP_RUN = pipRunFlags()

/** A password file made as the README says: `htpasswd -B`. Undefined when htpasswd is missing (skipped). */
async function htpasswdFile(
  t: TestContext,
  dir: string,
  users: readonly [string, string][],
): Promise<string | undefined> {
  const htpasswd = needTool(t, 'htpasswd')
  if (htpasswd === undefined) return undefined
  const path = join(dir, 'htpasswd')
  for (const [index, [user, password]] of users.entries()) {
    // -b: password from the command line (tests only), -B: bcrypt, -c: create the file.
    const made = await runProcess(htpasswd, [index === 0 ? '-bBc' : '-bB', path, user, password])
    assert.equal(made.code, 0, made.stderr)
  }
  return path
}

/** A client's environment: a fresh HOME, no user or machine configuration, no keyring. */
async function clientEnv(t: TestContext, extra: Readonly<Record<string, string>> = {}): Promise<NodeJS.ProcessEnv> {
  const home = await tempDir(t, 'eggserve-client-home-')
  await mkdir(join(home, '.config'), { recursive: true })
  return { ...isolatedEnv(home), ...extra }
}

function describeRun(result: RunResult): string {
  return `exit ${String(result.code)}${result.timedOut ? ' (timed out)' : ''}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

await test('twine uploads, re-uploads idempotently, is refused a conflicting file and a wrong password; pip installs the result', async (t) => {
  const twine = needTool(t, 'twine')
  if (twine === undefined) return
  const root = await tempDir(t, 'eggserve-twine-')
  const passwords = await htpasswdFile(t, root, [
    ['alice', 'wonderland'],
    ['ci-bot', 's3cret token'],
  ])
  if (passwords === undefined) return
  const eggdir = join(root, 'eggs')
  await mkdir(eggdir)
  const server = await startServer(t, { eggdir, args: ['--passwords', passwords] })
  const env = await clientEnv(t)
  const v1 = [buildWheel({ name: 'twine-demo', version: '1.0' }), buildSdist({ name: 'twine-demo', version: '1.0' })]
  const v2 = buildWheel({ name: 'twine-demo', version: '2.0', moduleSource: "__version__ = '2.0'\n" })
  const dist = async (name: string, files: readonly BuiltDist[]): Promise<string[]> => {
    const dir = join(root, name)
    return Promise.all(files.map((file) => writeDist(dir, file)))
  }
  const upload = (url: string, files: readonly string[], password = 'wonderland', user = 'alice'): Promise<RunResult> =>
    runProcess(
      twine,
      [
        'upload',
        '--repository-url',
        url,
        '-u',
        user,
        '-p',
        password,
        '--non-interactive',
        '--disable-progress-bar',
        ...files,
      ],
      { env, timeoutMs: 60_000 },
    )

  await t.test('a new project, with a signature', async () => {
    const files = await dist('v1', v1)
    // twine sends <file>.asc beside a file as its gpg_signature.
    await writeFile(`${files[0] ?? ''}.asc`, '-----BEGIN PGP SIGNATURE-----\ntest\n-----END PGP SIGNATURE-----\n')
    const result = await upload(`${server.url}/legacy/`, [...files, `${files[0] ?? ''}.asc`])
    assert.equal(result.code, 0, describeRun(result))
    for (const file of v1) assert.deepEqual(await readFile(join(eggdir, 'twine-demo', file.filename)), file.bytes)
    assert.match(
      await readFile(join(eggdir, 'twine-demo', `${v1[0]?.filename ?? ''}.asc`), 'utf8'),
      /BEGIN PGP SIGNATURE/,
    )
  })

  await t.test('a new version, through POST / and another user', async () => {
    const result = await upload(`${server.url}/`, await dist('v2', [v2]), 's3cret token', 'ci-bot')
    assert.equal(result.code, 0, describeRun(result))
    assert.deepEqual(
      (await readdir(join(eggdir, 'twine-demo'))).sort(),
      [...v1.map((file) => file.filename), `${v1[0]?.filename ?? ''}.asc`, v2.filename].sort(),
    )
  })

  await t.test(
    'the same files again: success, nothing changes (twine >= 6.2 has no --skip-existing here)',
    async () => {
      const before = await readdir(join(eggdir, 'twine-demo'))
      const result = await upload(`${server.url}/legacy/`, await dist('v1-again', v1))
      assert.equal(result.code, 0, describeRun(result))
      assert.deepEqual(await readdir(join(eggdir, 'twine-demo')), before)
    },
  )

  await t.test('different bytes under an existing name: 409 "File already exists"', async () => {
    const changed = buildWheel({ name: 'twine-demo', version: '1.0', summary: 'changed' })
    const result = await upload(`${server.url}/legacy/`, await dist('v1-changed', [changed]))
    assert.notEqual(result.code, 0)
    assert.match(describeRun(result), /409 Conflict/)
    assert.match(describeRun(result), /File already exists/)
    assert.deepEqual(await readFile(join(eggdir, 'twine-demo', changed.filename)), v1[0]?.bytes)
  })

  await t.test('a wrong password: 401, nothing stored', async () => {
    const v3 = buildWheel({ name: 'twine-demo', version: '3.0' })
    const result = await upload(`${server.url}/legacy/`, await dist('v3', [v3]), 'not the password')
    assert.notEqual(result.code, 0)
    assert.match(describeRun(result), /401 Unauthorized/)
    assert.match(describeRun(result), /Invalid credentials/)
    assert.ok(!(await readdir(join(eggdir, 'twine-demo'))).includes(v3.filename))
  })

  await t.test('pip installs what was uploaded, through both trees, with matching sha256', async (st) => {
    const venv = await createVenv(st)
    if (venv === undefined) return
    const requirements = join(root, 'requirements.txt')
    await writeFile(requirements, `twine-demo==2.0 --hash=sha256:${sha256(v2.bytes)}\n`)
    for (const [label, index] of [
      ['legacy', `${server.url}/`],
      ['simple', `${server.url}/simple/`],
    ] as const) {
      const dest = join(root, `download-${label}`)
      const result = await venv.pip([
        'download',
        ...PIP_RUN,
        '--no-deps',
        '--require-hashes',
        '-d',
        dest,
        '--index-url',
        index,
        '-r',
        requirements,
      ])
      assert.equal(result.code, 0, output(result))
      assert.deepEqual(await readFile(join(dest, v2.filename)), v2.bytes, label)
    }
    const target = join(root, 'target')
    const installed = await installHashed(venv, {
      index: `${server.url}/simple/`,
      requirements,
      target,
    })
    assert.equal(installed.code, 0, output(installed))
    const probe = await venv.run(['-c', 'import twine_demo; print(twine_demo.__version__)'], {
      env: { PYTHONPATH: target },
    })
    assert.equal(probe.stdout.trim(), '2.0', output(probe))
  })
})

/**
 * An eggdir served with one user (alice), and a project folder whose dist/ holds a wheel and
 * an sdist of `name` 1.0, ready for a client to publish; undefined when htpasswd is missing.
 */
async function publishingProject(
  t: TestContext,
  name: string,
): Promise<{ eggdir: string; server: ServerHandle; project: string; files: BuiltDist[] } | undefined> {
  const root = await tempDir(t, `eggserve-${name}-`)
  const passwords = await htpasswdFile(t, root, [['alice', 'wonderland']])
  if (passwords === undefined) return undefined
  const eggdir = join(root, 'eggs')
  await mkdir(eggdir)
  const server = await startServer(t, { eggdir, args: ['--passwords', passwords] })
  const project = join(root, 'project')
  const files = [buildWheel({ name, version: '1.0' }), buildSdist({ name, version: '1.0' })]
  for (const file of files) await writeDist(join(project, 'dist'), file)
  return { eggdir, server, project, files }
}

await test('poetry publish to the index, configured as the README says', async (t) => {
  const poetry = needTool(t, 'poetry')
  if (poetry === undefined) return
  const setup = await publishingProject(t, 'poetrydemo')
  if (setup === undefined) return
  const { eggdir, server, project, files } = setup
  await writeFile(
    join(project, 'pyproject.toml'),
    [
      '[tool.poetry]',
      'name = "poetrydemo"',
      'version = "1.0"',
      'description = "A demo"',
      'authors = ["Demo <demo@example.com>"]',
      '',
      '[build-system]',
      'requires = ["poetry-core"]',
      'build-backend = "poetry.core.masonry.api"',
      '',
    ].join('\n'),
  )
  const home = await clientEnv(t)
  const env = {
    ...home,
    POETRY_CONFIG_DIR: join(String(home.HOME), 'poetry-config'),
    POETRY_CACHE_DIR: join(String(home.HOME), 'poetry-cache'),
  }
  const poetryRun = (args: readonly string[]): Promise<RunResult> =>
    runProcess(poetry, args, { env, cwd: project, timeoutMs: 120_000 })
  for (const args of [
    ['config', 'repositories.eggserve', `${server.url}/legacy/`],
    ['config', 'http-basic.eggserve', 'alice', 'wonderland'],
  ]) {
    const configured = await poetryRun(args)
    assert.equal(configured.code, 0, describeRun(configured))
  }
  const published = await poetryRun(['publish', '-r', 'eggserve', '--no-interaction'])
  assert.equal(published.code, 0, describeRun(published))
  for (const file of files) assert.deepEqual(await readFile(join(eggdir, 'poetrydemo', file.filename)), file.bytes)
  // Publishing again succeeds: the files are identical.
  const again = await poetryRun(['publish', '-r', 'eggserve', '--no-interaction'])
  assert.equal(again.code, 0, describeRun(again))
  const listing = await fetch(`${server.url}/simple/poetrydemo/`)
  for (const file of files)
    assert.match(await listing.clone().text(), new RegExp(`${file.filename.replace(/\./g, '\\.')}#sha256=`))
})

await test('pdm publish to the index', async (t) => {
  const pdm = needTool(t, 'pdm')
  if (pdm === undefined) return
  const setup = await publishingProject(t, 'pdmdemo')
  if (setup === undefined) return
  const { eggdir, server, project, files } = setup
  await writeFile(
    join(project, 'pyproject.toml'),
    [
      '[project]',
      'name = "pdmdemo"',
      'version = "1.0"',
      'description = "A demo"',
      'requires-python = ">=3.7"',
      '',
      '[build-system]',
      'requires = ["pdm-pep517"]',
      'build-backend = "pdm.pep517.api"',
      '',
    ].join('\n'),
  )
  // PDM_CHECK_UPDATE=false: pdm would otherwise ask PyPI for a newer pdm.
  const env = await clientEnv(t, { PDM_CHECK_UPDATE: 'false' })
  const publish = (password: string): Promise<RunResult> =>
    runProcess(pdm, ['publish', '--no-build', '-r', `${server.url}/legacy/`, '-u', 'alice', '-P', password], {
      env,
      cwd: project,
      timeoutMs: 120_000,
    })
  const wrong = await publish('nope')
  assert.notEqual(wrong.code, 0)
  assert.match(describeRun(wrong), /401 Client Error: Invalid credentials/)
  const published = await publish('wonderland')
  assert.equal(published.code, 0, describeRun(published))
  for (const file of files) assert.deepEqual(await readFile(join(eggdir, 'pdmdemo', file.filename)), file.bytes)
})

await test('with --authenticate update,download,list, pip installs with credentials in the index URL', async (t) => {
  const root = await tempDir(t, 'eggserve-private-')
  const passwords = await htpasswdFile(t, root, [['alice', 'wonderland']])
  if (passwords === undefined) return
  const venv = await createVenv(t)
  if (venv === undefined) return
  const wheel = buildWheel({ name: 'private-demo', version: '1.0' })
  await writeDist(join(root, 'eggs', 'private-demo'), wheel)
  const server = await startServer(t, {
    eggdir: join(root, 'eggs'),
    args: ['--passwords', passwords, '--authenticate', 'update,download,list'],
  })
  const anonymous = await venv.pip([
    'download',
    ...PIP_RUN,
    '--no-deps',
    '-d',
    join(root, 'anonymous'),
    '--index-url',
    `${server.url}/simple/`,
    'private-demo',
  ])
  assert.notEqual(anonymous.code, 0, output(anonymous))
  const withCredentials = server.url.replace('http://', 'http://alice:wonderland@')
  const result = await venv.pip([
    'download',
    ...PIP_RUN,
    '--no-deps',
    '-d',
    join(root, 'dl'),
    '--index-url',
    `${withCredentials}/simple/`,
    'private-demo',
  ])
  assert.equal(result.code, 0, output(result))
  assert.deepEqual(await readFile(join(root, 'dl', wheel.filename)), wheel.bytes)
})

await test('setuptools\' upload_docs (bare-LF form, a content part "<name>.zip") gets the documented 410; nothing is written', async (t) => {
  // setuptools dropped upload_docs in 71; the pyenv Python 3.11 here ships 65.5 with it.
  const found = pyenvPython(await pyenvVersionsDir(), '3.11')
  const python = needTool(t, 'python3.11 (pyenv)', found?.python)
  if (python === undefined) return
  const probe = await runProcess(python, ['-c', 'import setuptools.command.upload_docs'])
  if (probe.code !== 0) {
    skipOrFail(t, `setuptools with upload_docs is missing: ${probe.stderr.trim()}`)
    return
  }
  const root = await tempDir(t, 'eggserve-docs-')
  const passwords = await htpasswdFile(t, root, [['alice', 'wonderland']])
  if (passwords === undefined) return
  const eggdir = join(root, 'eggs')
  await mkdir(eggdir)
  const server = await startServer(t, { eggdir, args: ['--passwords', passwords] })
  const project = join(root, 'upl')
  await mkdir(join(project, 'docs'), { recursive: true })
  await writeFile(join(project, 'setup.py'), "from setuptools import setup\nsetup(name='upl', version='1.0')\n")
  await writeFile(join(project, 'docs', 'index.html'), '<h1>upl</h1>\n')
  const env = await clientEnv(t)
  // The .pypirc way distutils-era commands are configured.
  await writeFile(
    join(env.HOME ?? root, '.pypirc'),
    `[distutils]\nindex-servers = local\n\n[local]\nrepository = ${server.url}/\nusername = alice\npassword = wonderland\n`,
  )
  const result = await runProcess(python, ['setup.py', 'upload_docs', '--upload-dir', 'docs', '-r', 'local'], {
    env,
    cwd: project,
    timeoutMs: 60_000,
  })
  // upload_docs reports a refusal but exits 0.
  assert.match(describeRun(result), /Upload failed \(410\): Uploading documentation is no longer supported/)
  const line = await server.waitForLine((entry) => entry.msg === 'request' && entry.method === 'POST')
  assert.equal(line.statusCode, 410)
  assert.deepEqual(await readdir(eggdir), [])
})
