// The original egg server's URLs: / lists folders, /<folder>/ lists files, /<folder>/<file> downloads.
// `pip install --index-url http://host:31001/ foo` asks for /foo/, so this tree stays as it was.
import type { FastifyPluginCallback } from 'fastify'
import { NotFoundError } from '../../errors.js'
import { encodeSegment, LEGACY_TREE } from '../../render/trees.js'
import { redirect } from '../replies.js'
import { fileHandler, type FileParams } from './file-handler.js'
import type { IndexRouteOptions } from './route-options.js'
import { sendProjectPage, sendRootPage, type TreePages } from './tree-pages.js'

interface FolderParams {
  folder: string
}

/** Routes of the original tree. Its pages are negotiated and cached like /simple/'s. */
export const legacyRoutes: FastifyPluginCallback<IndexRouteOptions> = (app, options, done) => {
  const tree: TreePages = { options, tree: LEGACY_TREE, hashAlgorithm: options.hashAlgorithm, section: 'legacy' }
  const list = { onRequest: options.access.hooks('list') }
  app.get('/', list, (request, reply) => sendRootPage(request, reply, tree))

  app.get<{ Params: FolderParams }>('/:folder', list, async (request, reply) => {
    const found = await options.index.findProject(request.params.folder)
    if (found === undefined) throw new NotFoundError()
    return redirect(request, reply, `${encodeSegment(found.folder)}/`)
  })

  app.get<{ Params: FolderParams }>('/:folder/', list, async (request, reply) => {
    const { folder } = request.params
    const found = await options.index.findProject(folder)
    if (found === undefined) throw new NotFoundError()
    // Any spelling that normalizes to the project leads to its folder (pip asks for /<normalized>/).
    if (found.folder !== folder) return redirect(request, reply, `../${encodeSegment(found.folder)}/`)
    return sendProjectPage(request, reply, tree, found)
  })

  // HEAD is declared, not derived: Fastify's derived HEAD would read the whole file stream.
  app.route<{ Params: FileParams }>({
    method: ['GET', 'HEAD'],
    url: '/:folder/:file',
    onRequest: options.access.hooks('download'),
    handler: fileHandler(options),
  })
  done()
}
