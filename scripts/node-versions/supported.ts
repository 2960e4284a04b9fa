// The Node.js majors eggserve supports are listed in one place: package.json "engines.node"
// (what npm checks at install, warning EBADENGINE outside it). Everything else follows that
// field: the test pass on the other supported majors (test-pass.ts), the runtimes it pins
// (pinned-runtimes.ts), and test/unit/node-versions.test.ts, which fails until
// docs/node-versions.md, the README and the pins agree with it. Dropping Node 20 is deleting
// its part of the range there, then following the failures (docs/node-versions.md).
import { readFileSync } from 'node:fs'
import semver from 'semver'

/** One supported major: the `||` part of the range that admits it. */
export interface SupportedMajor {
  readonly major: number
  /** The oldest release of that major the range admits, e.g. "20.19.0". */
  readonly floor: string
  /** The part of the range, e.g. "^20.19.0" or ">=24.0.0". */
  readonly part: string
  /** True for the last part when it has no upper bound (newer majors are admitted, untested). */
  readonly openEnded: boolean
}

/** package.json's engines.node. */
export function enginesRange(packageJson: URL = new URL('../../package.json', import.meta.url)): string {
  const pkg = JSON.parse(readFileSync(packageJson, 'utf8')) as { engines?: { node?: unknown } }
  const range = pkg.engines?.node
  if (typeof range !== 'string') throw new Error('package.json has no engines.node')
  return range
}

/**
 * The majors a range such as "^20.19.0 || ^22.12.0 || >=24.0.0" lists, oldest first. Each
 * `||` part must stay within one major, so that every supported major is named on purpose;
 * only the last may be open-ended.
 */
export function supportedMajors(range: string = enginesRange()): SupportedMajor[] {
  const parts = range.split('||').map((part) => part.trim())
  const majors = parts.map((part, i): SupportedMajor => {
    const parsed = new semver.Range(part)
    const floor = semver.minVersion(parsed)
    if (floor === null) throw new Error(`engines.node: "${part}" admits no version`)
    const nextMajor = `${floor.major + 1}.0.0-0`
    const openEnded =
      semver.satisfies(nextMajor, parsed, { includePrerelease: true }) ||
      semver.satisfies(`${floor.major + 1}.0.0`, parsed)
    if (openEnded && i !== parts.length - 1) {
      throw new Error(
        `engines.node: "${part}" spans several majors; name each supported major in a part of its own (only the last part may be open-ended)`,
      )
    }
    return { major: floor.major, floor: floor.version, part, openEnded }
  })
  const sorted = [...majors].sort((a, b) => a.major - b.major)
  if (sorted.some((entry, i) => entry !== majors[i]) || new Set(majors.map((m) => m.major)).size !== majors.length) {
    throw new Error(`engines.node: list each major once, oldest first ("${range}")`)
  }
  return majors
}

/** The supported major of a version such as process.version, or undefined outside the range. */
export function supportedMajorOf(version: string, range: string = enginesRange()): SupportedMajor | undefined {
  if (!semver.satisfies(version, range)) return undefined
  const major = semver.major(version)
  return (
    supportedMajors(range).find((entry) => entry.major === major) ??
    supportedMajors(range).find((entry) => entry.openEnded)
  )
}
