// The browse UI's project pages: /-/project/<name>/ (the latest release) and
// /-/project/<name>/<version>/. With upstreams the name rule decides who answers, as on
// /simple/ (docs/ui.md, "Upstream projects"): a local project's page is made here, an upstream
// or merged project's by UpstreamProjectPages.
import type { FastifyInstance, FastifyReply } from 'fastify'
import { findRelease, latestRelease } from '../../render/pypi-json.js'
import { encodeSegment } from '../../render/trees.js'
import { renderNotFound } from '../../render/ui/home.js'
import { renderProject } from '../../render/ui/project.js'
import { sendRepresentation } from '../page-response.js'
import { redirect } from '../replies.js'
import { projectView } from '../ui/project-view.js'
import { ReleaseCache } from '../ui/releases.js'
import { queryString, type UiRouteContext } from '../ui/ui-requests.js'
import { UpstreamProjectPages, type Found, type ListedPageRequest } from '../ui/upstream-pages.js'

interface ProjectParams {
  project: string
}
interface VersionParams {
  project: string
  version: string
}

/** GET /-/project/<name>[/] and /-/project/<name>/<version>[/]. */
export function registerProjectRoutes(app: FastifyInstance, ui: UiRouteContext): void {
  const { options, list, notFound } = ui
  const { index, pages } = options
  const context = ui.views
  const releaseCache = new ReleaseCache()
  const upstreamPages =
    options.upstream === undefined
      ? undefined
      : new UpstreamProjectPages({ upstream: options.upstream, context, pages, notFound })
  const find = async (name: string): Promise<Found> => {
    if (upstreamPages !== undefined) return upstreamPages.find(name)
    const state = await index.findProject(name)
    return state === undefined ? { kind: 'not-found' } : { kind: 'local', state }
  }
  // The answer for a name the eggdir does not answer alone: an upstream or merged project's
  // page, a 503 when its upstream cannot be asked, else a 404.
  const notLocal = (
    found: Exclude<Found, { kind: 'local' }>,
    page: ListedPageRequest,
  ): FastifyReply | Promise<FastifyReply> => {
    if (upstreamPages === undefined || found.kind === 'not-found')
      return notFound(page.reply, page.root, `No project is called “${page.name}” on this index.`)
    return found.kind === 'listed' ? upstreamPages.send(found, page) : upstreamPages.unavailable(page, found.offline)
  }

  app.get<{ Params: ProjectParams }>('/project/:project', list, async (request, reply) => {
    const found = await find(request.params.project)
    if (found.kind === 'not-found')
      return notFound(reply, '../', `No project is called “${request.params.project}” on this index.`)
    if (found.kind === 'unavailable') return redirect(request, reply, `${encodeSegment(request.params.project)}/`)
    return redirect(request, reply, `${found.kind === 'local' ? found.state.project : found.project}/`)
  })

  app.get<{ Params: ProjectParams }>('/project/:project/', list, async (request, reply) => {
    const { project } = request.params
    const all = queryString(request.query, 'releases') === 'all'
    const base = ui.indexBase(request)
    const lookup = await find(project)
    const at = { root: '../../', name: project, version: undefined, all, indexUrl: `${base}simple/` }
    if (lookup.kind !== 'local') return notLocal(lookup, { request, reply, ...at })
    const found = lookup.state
    if (found.project !== project) return redirect(request, reply, `../${found.project}/`)
    return sendRepresentation(
      request,
      reply,
      pages,
      { section: `ui|${base}`, name: found.project, variant: all ? 1 : 0 },
      {
        generation: found.generation,
        lastModifiedMs: found.lastModifiedMs,
        contentType: 'text/html; charset=utf-8',
        render: async () => {
          const page = await index.analyzedPage(found)
          const releases = releaseCache.releases(page, found.generation)
          const release = latestRelease(releases)
          if (release === undefined) return renderNotFound(ui.assets.names, '../../', `“${project}” has no files.`)
          return renderProject(
            await projectView(context, {
              page,
              releases,
              release,
              root: '../../',
              indexUrl: `${base}simple/`,
              allReleases: all,
            }),
          )
        },
      },
    )
  })

  app.get<{ Params: VersionParams }>('/project/:project/:version', list, (request, reply) =>
    redirect(request, reply, `${encodeSegment(request.params.version)}/`),
  )

  app.get<{ Params: VersionParams }>('/project/:project/:version/', list, async (request, reply) => {
    const { project, version } = request.params
    const base = ui.indexBase(request)
    const lookup = await find(project)
    const at = { root: '../../../', name: project, version, all: false, indexUrl: `${base}simple/` }
    if (lookup.kind !== 'local') return notLocal(lookup, { request, reply, ...at })
    const found = lookup.state
    const page = await index.analyzedPage(found)
    const releases = releaseCache.releases(page, found.generation)
    const release = findRelease(releases, version)
    if (release === undefined) return notFound(reply, '../../../', `${found.project} has no version “${version}”.`)
    if (found.project !== project || release.version !== version) {
      return redirect(request, reply, `../../${found.project}/${encodeSegment(release.version)}/`)
    }
    return sendRepresentation(
      request,
      reply,
      pages,
      { section: `ui|${base}`, name: `${found.project}|${release.version}`, variant: 0 },
      {
        generation: found.generation,
        lastModifiedMs: found.lastModifiedMs,
        contentType: 'text/html; charset=utf-8',
        render: async () =>
          renderProject(
            await projectView(context, {
              page,
              releases,
              release,
              root: '../../../',
              indexUrl: `${base}simple/`,
              allReleases: false,
            }),
          ),
      },
    )
  })
}
