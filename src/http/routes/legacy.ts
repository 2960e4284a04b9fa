// The original egg server's URLs: / lists folders, /<folder>/ lists files, /<folder>/<file> downloads.
// `pip install --index-url http://host:31001/ foo` asks for /foo/, so this tree stays as it was.
import type { FastifyPluginCallback } from 'fastify'
import { renderLinkPage } from '../../render/pages.js'
import { encodeSegment, legacyProjectPage, legacyRootPage } from '../../render/trees.js'
import { NotFoundError } from '../http-errors.js'
import { redirect, sendHtml } from '../replies.js'
import { fileHandler, type FileParams } from './file-handler.js'
import type { IndexRouteOptions } from './route-options.js'

interface FolderParams { folder: string }

/** Routes of the original tree. */
export const legacyRoutes: FastifyPluginCallback<IndexRouteOptions> = (app, { index, storage, hashAlgorithm }, done) => {
  app.get('/', async (_request, reply) => sendHtml(reply, renderLinkPage(legacyRootPage(await index.projects()))))

  app.get<{ Params: FolderParams }>('/:folder', async (request, reply) => {
    const found = await index.find(request.params.folder)
    if (found === undefined) throw new NotFoundError()
    return redirect(request, reply, `${encodeSegment(found.folder)}/`)
  })

  app.get<{ Params: FolderParams }>('/:folder/', async (request, reply) => {
    const { folder } = request.params
    const found = await index.find(folder)
    if (found === undefined) throw new NotFoundError()
    // Any spelling that normalizes to the project leads to its folder (pip asks for /<normalized>/).
    if (found.folder !== folder) return redirect(request, reply, `../${encodeSegment(found.folder)}/`)
    const page = await index.page(found.project)
    if (page === undefined) throw new NotFoundError()
    return sendHtml(reply, renderLinkPage(legacyProjectPage(page, hashAlgorithm)))
  })

  // HEAD is declared, not derived: Fastify's derived HEAD would read the whole file stream.
  app.route<{ Params: FileParams }>({ method: ['GET', 'HEAD'], url: '/:folder/:file', handler: fileHandler({ index, storage }) })
  done()
}
