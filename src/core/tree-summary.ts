// What a loaded tree holds, in words: the summary `eggserve check` prints, and the warning for
// a tree without a single distribution (most often not the folder that was meant).
import type { LayoutReport } from './layout.js'
import { plural } from './plural.js'

/** Distribution files in the report's projects (those with problems are not counted). */
export function distributionCount(report: LayoutReport): number {
  return report.projects.reduce((sum, project) => sum + project.files.length, 0)
}

/**
 * @example treeSummary(report) // "1 project, 3 distributions"
 */
export function treeSummary(report: LayoutReport): string {
  return `${plural(report.projects.length, 'project')}, ${plural(distributionCount(report), 'distribution')}`
}

/**
 * The count of layout problems of the tree at `where`, for `eggserve check` and for the
 * daemon's refusal to start.
 * @example problemCount('eggs', 2) // '"eggs" has 2 problems'
 */
export function problemCount(where: string, count: number): string {
  return `"${where}" has ${plural(count, 'problem')}`
}

/**
 * A warning when the tree holds no distribution at all, else undefined. Serving (or checking)
 * such a tree succeeds, so without a word a typo in a path would go unnoticed.
 * @example emptyTreeWarning('.', report) // 'No distributions in "." (8 folders, none holding a distribution file): is it the folder you meant?'
 */
export function emptyTreeWarning(eggdir: string, report: LayoutReport): string | undefined {
  if (distributionCount(report) > 0) return undefined
  const folders = report.projects.length
  const holds =
    folders === 0
      ? 'no project folder'
      : folders === 1
        ? '1 folder, without a distribution file'
        : `${folders} folders, none holding a distribution file`
  return `No distributions in "${eggdir}" (${holds}): is it the folder you meant?`
}
