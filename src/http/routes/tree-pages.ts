// The root and project pages of one tree (original or PEP 503), in HTML or JSON.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { HashAlgorithm } from '../../core/digests.js'
import { V1_JSON, type SimpleMediaType } from '../../core/negotiation.js'
import type { ProjectSnapshot } from '../../live-index/index-service.js'
import { renderProjectHtml, renderRootHtml } from '../../render/simple-html.js'
import { renderProjectJson, renderRootJson } from '../../render/simple-json.js'
import type { Tree } from '../../render/trees.js'
import { sendPage } from '../page-response.js'
import type { IndexRouteOptions } from './route-options.js'

/** One tree's pages: made once per route plugin, shared by its requests. */
export interface TreePages {
  readonly options: IndexRouteOptions
  readonly tree: Tree
  /** Algorithm of this tree's link fragments. */
  readonly hashAlgorithm: HashAlgorithm
  /** The page cache section of this tree (e.g. "simple"). */
  readonly section: string
  /**
   * The page cache section of this tree's merged and upstream pages (e.g. "upstream-simple"):
   * made once, since a key built per request is hashed anew on every lookup.
   */
  readonly upstreamSection: string
}

// The root page's name in its section: no project is called "".
const ROOT = ''

/** Send the root page of a tree. */
export async function sendRootPage(
  request: FastifyRequest,
  reply: FastifyReply,
  pages: TreePages,
): Promise<FastifyReply> {
  const root = await pages.options.index.listProjects()
  return sendPage(
    request,
    reply,
    pages.options.pages,
    { section: pages.section, name: ROOT },
    root,
    (type: SimpleMediaType) =>
      Promise.resolve(type === V1_JSON ? renderRootJson(root.projects) : renderRootHtml(root.projects, pages.tree)),
  )
}

/**
 * Answer with `send` once the project `name` names is found: at once when the index holds it
 * fresh (no promise, the common case for a page), else after the freshness check. `trusted`:
 * found the first way (findProjectNow(): watched, no watch event since the folder's last check).
 */
export function withProject(
  index: IndexRouteOptions['index'],
  name: string,
  send: (found: ProjectSnapshot | undefined, trusted: boolean) => FastifyReply | Promise<FastifyReply>,
): FastifyReply | Promise<FastifyReply> {
  const held = index.findProjectNow(name)
  return held === undefined ? index.findProject(name).then((found) => send(found, false)) : send(held, true)
}

/** Send a project's page in a tree; `project` was just found (and so is fresh). A cached page is sent at once. */
export function sendProjectPage(
  request: FastifyRequest,
  reply: FastifyReply,
  pages: TreePages,
  project: ProjectSnapshot,
): FastifyReply | Promise<FastifyReply> {
  return sendPage(
    request,
    reply,
    pages.options.pages,
    { section: pages.section, name: project.project },
    project,
    async (type: SimpleMediaType) => {
      const page = await pages.options.index.analyzedPage(project)
      return type === V1_JSON
        ? renderProjectJson(page, pages.tree)
        : renderProjectHtml(page, pages.tree, pages.hashAlgorithm)
    },
  )
}
