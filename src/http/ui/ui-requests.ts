// What every group of the browse UI's routes shares: the route options, the assets, the access
// hooks, the index URL of a request, the 404 page, and reading the query.
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import type { IndexRouteOptions } from '../routes/route-options.js'
import type { UiAssets } from './assets.js'
import type { ProjectViewContext } from './project-view.js'

/** Given to each group of UI routes by the UI plugin (src/http/routes/ui.ts). */
export interface UiRouteContext {
  readonly options: IndexRouteOptions
  readonly assets: UiAssets
  /** What the project pages are made from. */
  readonly views: ProjectViewContext
  /** Route options of every UI route: the `list` access hooks (--authenticate list). */
  readonly list: { readonly onRequest: onRequestAsyncHookHandler[] }
  /** The index URL of install commands, for this request (ends in "/"). */
  readonly indexBase: (request: FastifyRequest) => string
  /** Send the 404 page; `root` is the relative path to the UI root. */
  readonly notFound: (reply: FastifyReply, root: string, message: string) => FastifyReply
}

/** The query parameter `name` when given once as a string. */
export function queryString(query: unknown, name: string): string | undefined {
  if (typeof query !== 'object' || query === null || !(name in query)) return undefined
  const value: unknown = (query as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
}

/** From /-/a/b/c back to /-/: one "../" per segment after the prefix. */
export function relativeRoot(url: string): string {
  const path = url.split('?')[0] ?? ''
  const segments = path.slice('/-/'.length).split('/').length - 1
  return '../'.repeat(Math.max(0, segments))
}
