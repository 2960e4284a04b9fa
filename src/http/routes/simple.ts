// PEP 503 tree: /simple/, /simple/<normalized>/ and the files under /packages/<folder>/.
import type { FastifyPluginCallback } from 'fastify'
import { renderLinkPage } from '../../render/pages.js'
import { simpleProjectPage, simpleRootPage } from '../../render/trees.js'
import { NotFoundError } from '../http-errors.js'
import { redirect, sendHtml } from '../replies.js'
import { fileHandler, type FileParams } from './file-handler.js'
import type { IndexRouteOptions } from './route-options.js'

interface ProjectParams { project: string }

/** Routes of the standard tree. */
export const simpleRoutes: FastifyPluginCallback<IndexRouteOptions> = (app, { index, storage, hashAlgorithm }, done) => {
  // Checklist A-1: pages end in "/" because their hrefs are relative; Fastify does not redirect by itself (Z-4).
  app.get('/simple', async (request, reply) => redirect(request, reply, 'simple/'))

  app.get('/simple/', async (_request, reply) => sendHtml(reply, renderLinkPage(simpleRootPage(await index.projects()))))

  app.get<{ Params: ProjectParams }>('/simple/:project', async (request, reply) => {
    const found = await index.find(request.params.project)
    if (found === undefined) throw new NotFoundError()
    return redirect(request, reply, `${found.project}/`)
  })

  app.get<{ Params: ProjectParams }>('/simple/:project/', async (request, reply) => {
    const { project } = request.params
    const found = await index.find(project)
    // Checklist N-5: an unknown project is a 404, so clients go on to their other indexes.
    if (found === undefined) throw new NotFoundError()
    // Checklist N-3: easy_install asks for the name as written (Zope.Interface); PEP 503 wants the normalized URL.
    if (found.project !== project) return redirect(request, reply, `../${found.project}/`)
    const page = await index.page(found.project)
    if (page === undefined) throw new NotFoundError()
    return sendHtml(reply, renderLinkPage(simpleProjectPage(page, hashAlgorithm)))
  })

  // HEAD is declared, not derived: Fastify's derived HEAD would read the whole file stream.
  app.route<{ Params: FileParams }>({ method: ['GET', 'HEAD'], url: '/packages/:folder/:file', handler: fileHandler({ index, storage }) })
  done()
}
