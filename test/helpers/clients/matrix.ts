// The client × check matrix: the check catalogue (shared with scripts/compat-table.ts), the
// result records written as JSON lines to $EGGSERVE_COMPAT_OUT, and runCheck(), which runs
// one check as a node:test subtest and records what happened.
import { appendFileSync } from 'node:fs'
import type { TestContext } from 'node:test'
import { skipOrFail } from '../tools.js'

/** Every check a client may get, in table order. */
export const CHECKS = [
  {
    id: 'isolated',
    title: 'isolated',
    proves:
      'Negative control of the harness: with the index on a closed port, the client finds nothing, so no machine configuration (pip.conf find-links, extra indexes, PIP_* variables) leaks into the runs.',
  },
  {
    id: 'negotiation',
    title: 'JSON/HTML',
    proves:
      'Every project page the client received came in the representation its Accept header asks for (PEP 691): JSON for pip >= 22.2 and pdm, HTML for older pips, easy_install (no Accept header) and poetry 1.3 (no Accept header).',
  },
  {
    id: 'install-latest',
    title: 'latest',
    proves: "`mx-core` unpinned installs 1.1 (the newest), imported from this run's install.",
  },
  { id: 'install-pinned', title: 'pinned', proves: '`mx-core==1.0` installs 1.0 although 1.1 exists.' },
  {
    id: 'deps-normalized',
    title: 'dep via odd name',
    proves:
      '`Mx.Mixed_Name` (folder `Mx.Mixed_Name/`, filenames in two spellings) installs with its dependency written `MX_Core>=1.0`; the import sees mx_core. For easy_install the server log must show the 301s from `/simple/Mx.Mixed_Name/` and `/simple/MX_Core/`.',
  },
  {
    id: 'sdist',
    title: 'sdist',
    proves:
      'A source-only release is downloaded and built by the client (the installed module says it came from the sdist).',
  },
  {
    id: 'hashes',
    title: 'hashes',
    proves:
      "pip: `--require-hashes` with the fixture's sha256 installs. poetry/pdm: every file hash in the lock file equals the fixture file's sha256.",
  },
  {
    id: 'tamper-detected',
    title: 'tamper caught',
    proves:
      'One byte of the file changed on the wire (proxy) after the client read genuine pages: the client refuses it because of the digest the server advertised (pip, easy_install) or locked (poetry, pdm).',
  },
  {
    id: 'requires-python',
    title: 'Requires-Python',
    proves:
      '`mx-pyreq` 2.0 (Requires-Python >=4) is never chosen: 1.0 is installed. For pip and pdm, no file of 2.0 (nor its .metadata) is even requested, so the exclusion came from the index page.',
  },
  {
    id: 'yank-skipped',
    title: 'yank skipped',
    proves:
      "`mx-yank` unpinned installs 1.0: 2.0's wheel (yanked with a reason) and sdist (empty `.yanked`) are both skipped.",
  },
  {
    id: 'yank-pinned',
    title: 'yank pinned',
    proves: '`mx-yank==2.0` still installs the yanked 2.0; pip and poetry print the yank reason served by the index.',
  },
  {
    id: 'pep658',
    title: 'PEP 658',
    proves:
      "pip installs the long-named project: it reads the `.metadata` of 2.0 (URL segment over 100 characters), finds its dependency unsatisfiable and installs 1.0, and the server log shows 200 for both `.metadata` files and no download of the 2.0 wheel, which only had to be resolved; the served `.metadata` bytes are the wheel's METADATA.",
  },
  {
    id: 'egg',
    title: 'egg',
    proves: 'easy_install installs an egg-only release, imported from the `.egg` for its Python version.',
  },
  {
    id: 'md5-anchors',
    title: 'md5 anchors',
    proves:
      'poetry installs from its lock against `#md5=` anchors on `/simple/` (`--simple-hash-algo md5`, asked for explicitly; every other check runs with default settings, whose `/simple/` pages carry `#sha256=`).',
  },
  {
    id: 'server-clean',
    title: 'no 5xx',
    proves: "The server answered none of the client's requests with a 5xx and wrote only JSON log lines.",
  },
] as const

/** A check's identifier. */
export type CheckId = (typeof CHECKS)[number]['id']

/** What became of one check. */
export type CheckStatus = 'pass' | 'fail' | 'n/a' | 'skip' | 'known-issue'

/** A client as found on this machine. */
export interface ClientRecord {
  readonly type: 'client'
  readonly client: string
  /** e.g. "pip 18.1", "easy_install (setuptools 47.1.0)". */
  readonly label: string
  readonly python?: string
  readonly found: boolean
  readonly note?: string
}

/** The outcome of one check. */
export interface CheckRecord {
  readonly type: 'check'
  readonly client: string
  readonly check: CheckId
  readonly status: CheckStatus
  readonly detail: string
  readonly ms: number
}

/** The run itself. */
export interface RunRecord {
  readonly type: 'run'
  readonly date: string
  readonly node: string
  readonly system: Readonly<Record<string, string>>
}

/** One line of the results file. */
export type ResultRecord = ClientRecord | CheckRecord | RunRecord

const recordedClients = new Set<string>()

/** True once any record of `client` was written (so its set-up got that far). */
export function hasRecords(client: string): boolean {
  return recordedClients.has(client)
}

/** Append a record to $EGGSERVE_COMPAT_OUT (if set) as one JSON line. */
export function record(entry: ResultRecord): void {
  if (entry.type !== 'run') recordedClients.add(entry.client)
  const out = process.env.EGGSERVE_COMPAT_OUT
  if (out === undefined || out === '') return
  appendFileSync(out, `${JSON.stringify(entry)}\n`)
}

/** Options of {@link runCheck}. */
export interface CheckOptions {
  /** The client cannot do this at all (e.g. pip 18.1 predates PEP 592): not run, recorded 'n/a'. */
  readonly na?: string
  /**
   * A known limitation of the client: the check must fail with output matching `expect`, and
   * then passes as a test of that limitation (recorded 'known-issue'). If the client ever stops
   * failing, or fails differently, the test fails, so the table is revisited.
   */
  readonly knownIssue?: { readonly reason: string; readonly expect: RegExp }
}

/** What a check body returns: a short note for the results (what it saw). */
export type CheckBody = (t: TestContext) => Promise<string>

/**
 * Run one check of one client as a subtest of `t` (awaited, so checks of a client run in
 * order), recording pass/fail with the first line of the failure. Resolves true on pass.
 * A check that does not apply to the client is recorded and noted, not run (and not counted
 * as a skipped test).
 */
export async function runCheck(
  t: TestContext,
  client: string,
  id: CheckId,
  body: CheckBody,
  options: CheckOptions = {},
): Promise<boolean> {
  if (options.na !== undefined) {
    record({ type: 'check', client, check: id, status: 'n/a', detail: options.na, ms: 0 })
    t.diagnostic(`${id}: not applicable (${options.na})`)
    return false
  }
  const known = options.knownIssue
  let passed = false
  await t.test(id, async (st) => {
    const started = performance.now()
    const ms = (): number => Math.round(performance.now() - started)
    let detail: string
    try {
      detail = await body(st)
    } catch (err: unknown) {
      const message = err instanceof Error ? err.message : String(err)
      if (known?.expect.test(message) === true) {
        record({
          type: 'check',
          client,
          check: id,
          status: 'known-issue',
          detail: `${known.reason} (this run: ${firstLine(message)})`,
          ms: ms(),
        })
        st.diagnostic(`known limitation confirmed: ${known.reason}`)
        return
      }
      record({ type: 'check', client, check: id, status: 'fail', detail: firstLine(message), ms: ms() })
      throw err
    }
    passed = true
    record({ type: 'check', client, check: id, status: 'pass', detail, ms: ms() })
    if (known !== undefined)
      throw new Error(
        `${id} passed, but it was recorded as a known limitation of ${client} (${known.reason}): drop knownIssue`,
      )
  })
  return passed
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').slice(0, 300)
}

/** Record (and note) a check this client cannot do at all, with the reason. */
export async function notApplicable(t: TestContext, client: string, id: CheckId, reason: string): Promise<void> {
  await runCheck(t, client, id, () => Promise.resolve(''), { na: reason })
}

/**
 * A client that is not on this machine: fails the test under CI=true, otherwise skips it
 * with the message (skipOrFail). Recorded either way.
 */
export function clientMissing(t: TestContext, entry: Omit<ClientRecord, 'type' | 'found'>, message: string): void {
  record({ type: 'client', ...entry, found: false, note: message })
  skipOrFail(t, `${entry.client}: ${message}`)
}

/** EGGSERVE_MATRIX_CLIENTS: comma-separated client ids or prefixes (e.g. "pip,pdm"); unset = all. */
export function clientSelected(client: string): boolean {
  const wanted = process.env.EGGSERVE_MATRIX_CLIENTS
  if (wanted === undefined || wanted.trim() === '') return true
  return wanted
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .some((entry) => client === entry || client.startsWith(entry))
}
