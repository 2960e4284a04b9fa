// Which zip member holds the core metadata: wheels, eggs and zip sdists.
import type { Entry } from 'yauzl'
import { normalizeProjectName } from '../core/names.js'
import { metadataProblem, type MetadataFailure } from './metadata-read.js'

/** Picks the metadata member while the central directory is walked, without keeping every name. */
export interface MemberChooser {
  /** Look at one entry; a failure stops the walk early (e.g. a second candidate). */
  see(entry: Entry): MetadataFailure | undefined
  /** After the walk: the member to read, or why there is none. */
  choose(): Entry | MetadataFailure
}

const DIST_INFO = '.dist-info'

/**
 * Wheels, as pip's `wheel_dist_info_dir` does: every top-level `*.dist-info` directory
 * counts, whether or not it holds METADATA, and exactly one is allowed, since pip refuses to
 * install a wheel with zero or several. Its name part (before the last `-`; versions in
 * wheel names never hold one) must normalize to the filename's project: stricter than pip's
 * prefix test, so `foo` never gets the metadata of `foobar`. Warehouse's fixed path
 * `{name}-{version}.dist-info` is not required, so legacy spellings (`Foo.Bar-1.0.dist-info`) work.
 */
export function wheelMetadataChooser(project: string): MemberChooser {
  let distInfo: string | undefined
  let metadata: Entry | undefined
  return {
    see(entry) {
      const slash = entry.fileName.indexOf('/')
      if (slash <= 0) return undefined
      const top = entry.fileName.slice(0, slash)
      if (!top.endsWith(DIST_INFO)) return undefined
      distInfo ??= top
      if (top !== distInfo) {
        return metadataProblem('duplicate-metadata', `more than one .dist-info directory: ${distInfo} and ${top}`)
      }
      if (entry.fileName !== `${top}/METADATA`) return undefined
      // Two central-directory entries for one path: readers disagree on which one wins.
      if (metadata !== undefined) return metadataProblem('duplicate-metadata', `${entry.fileName} is listed twice`)
      metadata = entry
      return undefined
    },
    choose() {
      if (distInfo === undefined) return metadataProblem('missing-metadata', 'no .dist-info directory')
      const stem = distInfo.slice(0, -DIST_INFO.length)
      const dash = stem.lastIndexOf('-')
      const name = dash < 0 ? stem : stem.slice(0, dash)
      if (normalizeProjectName(name) !== project) {
        return metadataProblem('missing-metadata', `${distInfo} does not belong to project ${project}`)
      }
      return metadata ?? metadataProblem('missing-metadata', `no ${distInfo}/METADATA`)
    },
  }
}

/** The one member for which `matches` holds; a second one is a duplicate. */
function singleMemberChooser(matches: (name: string) => boolean, what: string): MemberChooser {
  let found: Entry | undefined
  return {
    see(entry) {
      if (!matches(entry.fileName)) return undefined
      if (found !== undefined) {
        return metadataProblem('duplicate-metadata', `more than one ${what}: ${found.fileName} and ${entry.fileName}`)
      }
      found = entry
      return undefined
    },
    choose() {
      return found ?? metadataProblem('missing-metadata', `no ${what}`)
    },
  }
}

/** Eggs: `EGG-INFO/PKG-INFO` (setuptools bdist_egg layout). */
export function eggMetadataChooser(): MemberChooser {
  return singleMemberChooser((name) => name === 'EGG-INFO/PKG-INFO', 'EGG-INFO/PKG-INFO')
}

/**
 * Zip sdists: `<top>/PKG-INFO` one level down (source distribution format), so `<top>/src/x.egg-info/PKG-INFO` never
 * counts. Two of them (two top-level directories, or one path listed twice) are a duplicate.
 * Other stray top-level files are tolerated.
 */
export function sdistZipMetadataChooser(): MemberChooser {
  return singleMemberChooser(isTopLevelPkgInfo, '<top>/PKG-INFO')
}

/** True for `<dir>/PKG-INFO` exactly one directory down (`./` prefixes, as some tars write, are ignored). */
export function isTopLevelPkgInfo(path: string): boolean {
  const parts = path.replace(/^(?:\.\/)+/, '').split('/')
  return parts.length === 2 && parts[1] === 'PKG-INFO' && parts[0] !== '' && parts[0] !== '.' && parts[0] !== '..'
}
