// Finding the external tools some tests drive (python3, pip, systemd-analyze, ...).
// Outside CI a missing tool skips the test with a message; with CI=true (or
// EGGSERVE_REQUIRE_TOOLS=1) it fails the test, so CI can never pass by skipping.
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { TestContext } from 'node:test'

/** True when missing tools must fail tests instead of skipping them. */
const toolsRequired = process.env.CI === 'true' || process.env.EGGSERVE_REQUIRE_TOOLS === '1'

/** Absolute path of an executable found on PATH (or the absolute path itself), else undefined. */
export function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name))
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here; try the next PATH entry
    }
  }
  return undefined
}

/**
 * Returns the tool's path, or handles its absence: fails the test when tools are
 * required, otherwise marks it skipped with a message and returns undefined.
 */
export function needTool(
  t: TestContext,
  name: string,
  path: string | undefined = findExecutable(name),
): string | undefined {
  if (path !== undefined) return path
  skipOrFail(t, `${name} not found on this machine`)
  return undefined
}

/**
 * Something the test needs is missing (a tool, a module, a recent enough version): fails the
 * test when tools are required (CI=true), so CI can never pass by skipping; otherwise marks it
 * skipped, with the message as a diagnostic too; the caller then returns without testing.
 */
export function skipOrFail(t: TestContext, message: string): void {
  if (toolsRequired) throw new Error(`${message}, and CI=true requires it`)
  t.diagnostic(`SKIP: ${message}`)
  t.skip(message)
}
