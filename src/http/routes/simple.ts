// PEP 503 tree: /simple/, /simple/<normalized>/ and the files under /packages/<folder>/.
import type { FastifyPluginCallback } from 'fastify'
import { isValidProjectName, normalizeProjectName } from '../../core/names.js'
import { NotFoundError } from '../../errors.js'
import { SIMPLE_TREE } from '../../render/trees.js'
import { redirect } from '../replies.js'
import { fileHandler, type FileParams } from './file-handler.js'
import type { IndexRouteOptions } from './route-options.js'
import { sendResolvedProject } from './upstream.js'
import { sendProjectPage, sendRootPage, withProject, type TreePages } from './tree-pages.js'

interface ProjectParams {
  project: string
}

/** Routes of the standard tree. */
export const simpleRoutes: FastifyPluginCallback<IndexRouteOptions> = (app, options, done) => {
  const tree: TreePages = {
    options,
    tree: SIMPLE_TREE,
    hashAlgorithm: options.simpleHashAlgorithm,
    section: 'simple',
    upstreamSection: 'upstream-simple',
  }
  // PEP 503: pages end in "/" because their hrefs are relative; Fastify does not redirect by itself.
  const list = { onRequest: options.access.hooks('list') }
  app.get('/simple', list, async (request, reply) => redirect(request, reply, 'simple/'))

  app.get('/simple/', list, (request, reply) => sendRootPage(request, reply, tree))

  app.get<{ Params: ProjectParams }>('/simple/:project', list, async (request, reply) => {
    // With upstreams, the page itself decides (and redirects to the normalized name).
    if (options.upstream !== undefined && isValidProjectName(request.params.project))
      return redirect(request, reply, `${normalizeProjectName(request.params.project)}/`)
    const found = await options.index.findProject(request.params.project)
    if (found === undefined) throw new NotFoundError()
    return redirect(request, reply, `${found.project}/`)
  })

  app.get<{ Params: ProjectParams }>('/simple/:project/', list, (request, reply) => {
    const { project } = request.params
    if (options.upstream !== undefined) return sendResolvedProject(request, reply, tree, options.upstream, project)
    return withProject(options.index, project, (found) => {
      // PEP 503: an unknown project is a 404, so clients go on to their other indexes.
      if (found === undefined) throw new NotFoundError()
      // easy_install asks for the name as written (Zope.Interface); PEP 503 wants the normalized URL.
      if (found.project !== project) return redirect(request, reply, `../${found.project}/`)
      return sendProjectPage(request, reply, tree, found)
    })
  })

  // HEAD is declared, not derived: Fastify's derived HEAD would read the whole file stream.
  app.route<{ Params: FileParams }>({
    method: ['GET', 'HEAD'],
    url: '/packages/:folder/:file',
    onRequest: options.access.hooks('download'),
    handler: fileHandler(options),
  })
  done()
}
