// The browse UI's project pages when upstreams are configured: the name rule decides who
// answers, as on /simple/ (src/core/name-rule.ts). A local project keeps its own page; an
// upstream or merged project gets a page made from the files its /simple/ page lists, each
// with its origin, and the release's metadata (the upstream's PEP 658 file when no local file of
// the release gives it; docs/ui.md, "Upstream projects").
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ProjectSnapshot } from '../../live-index/index-service.js'
import { findListedRelease, listedReleases } from '../../render/pypi-json-listed.js'
import { latestRelease } from '../../render/pypi-json.js'
import { SIMPLE_TREE, encodeSegment } from '../../render/trees.js'
import { renderMessage } from '../../render/ui/home.js'
import { renderProject } from '../../render/ui/project.js'
import type { Resolution, UpstreamIndex } from '../../upstream/upstream-index.js'
import { listedReleaseMetadata } from '../listed-release-metadata.js'
import { sendRepresentation, type PageOptions } from '../page-response.js'
import { redirect } from '../replies.js'
import { listedFiles, resolvedGeneration } from '../routes/upstream.js'
import { listedProjectView } from './listed-project-view.js'
import type { ProjectViewContext } from './project-view.js'

/** Who answers for a name on the UI's project pages. */
export type Found =
  | { readonly kind: 'local'; readonly state: ProjectSnapshot }
  | {
      readonly kind: 'listed'
      readonly project: string
      readonly resolution: Extract<Resolution, { kind: 'merge' | 'upstream' }>
    }
  | { readonly kind: 'unavailable'; readonly offline: boolean }
  | { readonly kind: 'not-found' }

/** What one upstream or merged project page needs from its request. */
export interface ListedPageRequest {
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  /** Relative path to the UI root. */
  readonly root: string
  /** The name as the URL gave it. */
  readonly name: string
  /** The version as the URL gave it; undefined for the latest release's page. */
  readonly version: string | undefined
  readonly all: boolean
  readonly indexUrl: string
}

/** Project pages of upstream and merged projects. */
export class UpstreamProjectPages {
  readonly #upstream: UpstreamIndex
  readonly #context: ProjectViewContext
  readonly #pages: PageOptions
  readonly #notFound: (reply: FastifyReply, root: string, message: string) => FastifyReply

  constructor(options: {
    upstream: UpstreamIndex
    context: ProjectViewContext
    pages: PageOptions
    notFound: (reply: FastifyReply, root: string, message: string) => FastifyReply
  }) {
    this.#upstream = options.upstream
    this.#context = options.context
    this.#pages = options.pages
    this.#notFound = options.notFound
  }

  /** Apply the name rule to `name` (the local index first; an upstream only when the rule allows). */
  async find(name: string): Promise<Found> {
    const resolution = await this.#upstream.resolve(name)
    switch (resolution.kind) {
      case 'local':
        return { kind: 'local', state: resolution.state }
      case 'not-found':
        return { kind: 'not-found' }
      case 'unavailable':
        return { kind: 'unavailable', offline: resolution.offline }
      case 'merge':
        return { kind: 'listed', project: resolution.state.project, resolution }
      case 'upstream':
        return { kind: 'listed', project: resolution.view.project, resolution }
    }
  }

  /** The 503 page of a name whose upstream cannot be asked now (or, offline, has no cached page): not a 404, as on /simple/. */
  unavailable(page: ListedPageRequest, offline: boolean): FastifyReply {
    return page.reply
      .code(503)
      .header('cache-control', 'no-store')
      .header('retry-after', '30')
      .type('text/html; charset=utf-8')
      .send(
        renderMessage(this.#context.assets, page.root, {
          heading: 'Upstream unavailable',
          what: offline
            ? `“${page.name}” is not on this index, and this index is offline with no cached page for it.`
            : `“${page.name}” is not on this index, and the upstream index cannot be reached now.`,
        }),
      )
  }

  /** Send the page of a release of an upstream or merged project (any spelling redirects to the normalized one). */
  async send(found: Extract<Found, { kind: 'listed' }>, page: ListedPageRequest): Promise<FastifyReply> {
    const { project, resolution } = found
    const local = resolution.kind === 'merge' ? resolution.state : undefined
    const view = resolution.view
    const files = await listedFiles(this.#upstream, { project, local, view, tree: SIMPLE_TREE })
    const releases = listedReleases(files)
    const release = page.version === undefined ? latestRelease(releases) : findListedRelease(releases, page.version)
    if (release === undefined)
      return this.#notFound(
        page.reply,
        page.root,
        page.version === undefined ? `“${project}” has no files.` : `${project} has no version “${page.version}”.`,
      )
    if (page.version === undefined ? project !== page.name : project !== page.name || release.version !== page.version)
      return redirect(
        page.request,
        page.reply,
        page.version === undefined ? `../${project}/` : `../../${project}/${encodeSegment(release.version)}/`,
      )
    page.reply.header('eggserve-origin', resolution.kind === 'merge' ? 'merged' : 'upstream')
    return sendRepresentation(
      page.request,
      page.reply,
      this.#pages,
      {
        section: `ui-upstream|${page.indexUrl}`,
        name: `${project}|${page.version ?? ''}`,
        variant: page.all ? 1 : 0,
      },
      {
        generation: resolvedGeneration(this.#upstream, resolution, { withMetadata: true }),
        lastModifiedMs: 0,
        contentType: 'text/html; charset=utf-8',
        render: async () =>
          renderProject(
            await listedProjectView(this.#context, {
              project,
              local,
              upstreamLabel: view?.upstream.label,
              metadata: await listedReleaseMetadata({
                metadata: this.#context.metadata,
                upstream: this.#upstream,
                project,
                local,
                view,
                release,
              }),
              releases,
              release,
              root: page.root,
              indexUrl: page.indexUrl,
              allReleases: page.all,
            }),
          ),
      },
    )
  }
}
