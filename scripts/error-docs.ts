// Regenerates docs/errors.md's table (between <!-- error-codes:start --> and
// <!-- error-codes:end -->) from the registry, src/error-codes.ts.
//
//   npm run docs:errors            rewrite docs/errors.md
//   npm run docs:errors -- --print print the table instead
//
// test/unit/error-codes.test.ts fails when the file and the registry disagree.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { ERRORS, errorSpec, type ErrorCode } from '../src/error-codes.js'

/** docs/errors.md. */
export const ERRORS_DOC = fileURLToPath(new URL('../docs/errors.md', import.meta.url))
const START = '<!-- error-codes:start -->'
const END = '<!-- error-codes:end -->'

/** The table of every code, in the registry's order. */
export function renderErrorTable(): string {
  // Object.keys() is typed string[]; the keys of the registry are exactly its codes.
  const rows = (Object.keys(ERRORS) as ErrorCode[]).map((code) => {
    const spec = errorSpec(code)
    return `| \`${code}\` | ${spec.description} | ${answer(code)} | ${spec.status === undefined ? '-' : spec.expose ? 'yes' : 'no'} |`
  })
  return [
    '| Code | Meaning | HTTP status / exit code | Message sent to clients |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

function answer(code: ErrorCode): string {
  const { status, retryAfterSeconds, exit } = errorSpec(code)
  const parts: string[] = []
  if (status !== undefined)
    parts.push(retryAfterSeconds === undefined ? String(status) : `${status} (\`Retry-After: ${retryAfterSeconds}\`)`)
  if (exit !== undefined) parts.push(status === undefined ? `exit ${exit}` : `exit ${exit} at start-up`)
  return parts.join('; ')
}

/** `text` with the region between the markers replaced by `table`. */
export function withTable(text: string, table: string): string {
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  if (start < 0 || end < start) throw new SyntaxError(`docs/errors.md needs ${START} and ${END}`)
  return `${text.slice(0, start + START.length)}\n${table}\n${text.slice(end)}`
}

async function main(args: readonly string[]): Promise<void> {
  const table = renderErrorTable()
  if (args.includes('--print')) {
    process.stdout.write(`${table}\n`)
    return
  }
  await writeFile(ERRORS_DOC, withTable(await readFile(ERRORS_DOC, 'utf8'), table))
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1])
  await main(process.argv.slice(2))
