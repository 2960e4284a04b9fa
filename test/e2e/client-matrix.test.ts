// The client compatibility matrix: real pip (18.1 … newest), easy_install, poetry and pdm
// against the real daemon, each client with a server of its own (its access log is then
// that client's alone) and isolated from this machine's pip configuration. Results go to
// $EGGSERVE_COMPAT_OUT as JSON lines (scripts/compat-table.ts turns them into the table of docs/compatibility.md).
//
// Environment: EGGSERVE_MATRIX_CLIENTS (e.g. "pip-py3.6,poetry": ids or prefixes),
// EGGSERVE_MATRIX_JOBS (clients run at once, default 3), EGGSERVE_MATRIX_TIMEOUT (seconds per
// client command, default 180), EGGSERVE_PYENV_VERSIONS (where the Pythons are),
// EGGSERVE_MATRIX_NEWEST_PYTHON (interpreter of the newest pip, default 3.12).
// With CI=true a missing client fails; otherwise it is skipped with a message.
import { test, type TestContext } from 'node:test'
import { scratchDir, type MatrixContext } from '../helpers/clients/context.js'
import { EASY_INSTALL_CLIENTS, easyInstallGroup } from '../helpers/clients/easy-install.js'
import { pyenvVersionsDir, systemExecutable } from '../helpers/clients/environment.js'
import { CHECKS, clientSelected, hasRecords, record } from '../helpers/clients/matrix.js'
import { pdmGroup } from '../helpers/clients/pdm.js'
import { PIP_CLIENTS, pipGroup } from '../helpers/clients/pip.js'
import { poetryGroup } from '../helpers/clients/poetry.js'
import { commandTimeoutMs, runCommand } from '../helpers/clients/process.js'
import { buildMatrixFixture } from '../helpers/matrix-fixture.js'
import { tempDir } from '../helpers/temp-tree.js'

const requestedJobs = Number(process.env.EGGSERVE_MATRIX_JOBS ?? '3')
const jobs = Number.isInteger(requestedJobs) && requestedJobs > 0 ? requestedJobs : 3

interface Group {
  readonly id: string
  readonly run: (t: TestContext, ctx: MatrixContext) => Promise<void>
}

// Slowest first, so the long poles start at once.
const GROUPS: readonly Group[] = [
  { id: 'poetry', run: poetryGroup },
  { id: 'pdm', run: pdmGroup },
  ...PIP_CLIENTS.map((spec) => ({ id: spec.id, run: (t: TestContext, ctx: MatrixContext) => pipGroup(t, ctx, spec) })),
  ...EASY_INSTALL_CLIENTS.map((spec) => ({
    id: spec.id,
    run: (t: TestContext, ctx: MatrixContext) => easyInstallGroup(t, ctx, spec),
  })),
]

await test('client compatibility matrix', { concurrency: jobs }, async (t) => {
  const started = performance.now()
  const work = await tempDir(t, 'eggserve-matrix-')
  const fixture = await buildMatrixFixture(await scratchDir({ work }, 'fixture'))
  const ctx: MatrixContext = { fixture, work, pyenvVersions: await pyenvVersionsDir(), timeoutMs: commandTimeoutMs() }
  record({ type: 'run', date: new Date().toISOString(), node: process.version, system: await systemVersions() })
  const selected = GROUPS.filter((group) => clientSelected(group.id))
  t.diagnostic(
    `clients: ${selected.map((group) => group.id).join(', ')} (${jobs} at a time); Pythons from ${ctx.pyenvVersions}`,
  )
  await Promise.all(
    selected.map((group) =>
      t.test(group.id, async (st) => {
        try {
          await group.run(st, ctx)
        } catch (err: unknown) {
          // A client whose set-up broke still gets a row: every check failed, with the reason.
          if (!hasRecords(group.id)) recordSetUpFailure(group.id, err)
          throw err
        }
      }),
    ),
  )
  t.diagnostic(`matrix took ${Math.round((performance.now() - started) / 1000)} s`)
})

function recordSetUpFailure(client: string, err: unknown): void {
  const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? ''
  record({ type: 'client', client, label: client, found: true, note: `set-up failed: ${reason}` })
  for (const check of CHECKS)
    record({
      type: 'check',
      client,
      check: check.id,
      status: 'fail',
      detail: 'client set-up failed (see the note)',
      ms: 0,
    })
}

/** The distribution's python3 and its pip, for the table's header. */
async function systemVersions(): Promise<Record<string, string>> {
  const versions: Record<string, string> = {}
  const python3 = systemExecutable('python3')
  if (python3 === undefined) return versions
  const env = { PATH: '/usr/bin:/bin', PIP_CONFIG_FILE: '/dev/null', LC_ALL: 'C.UTF-8' }
  const python = await runCommand(python3, ['--version'], { env, cwd: '/', timeoutMs: 30_000 })
  if (python.code === 0) versions.python3 = `${python.stdout}${python.stderr}`.trim()
  const pip = await runCommand(python3, ['-m', 'pip', '--version'], { env, cwd: '/', timeoutMs: 30_000 })
  if (pip.code === 0) versions.pip = /^pip (\S+)/.exec(pip.stdout)?.[1] ?? pip.stdout.trim()
  return versions
}
