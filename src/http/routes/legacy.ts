// The original egg server's URLs: / lists folders, /<folder>/ lists files, /<folder>/<file> downloads.
// `pip install --index-url http://host:31001/ foo` asks for /foo/, so this tree stays as it was.
// With upstreams, /<name>/ answers through the name rule as /simple/<name>/ does, and an
// upstream project's files download at /<name>/<file> (docs/upstream.md, "Pages").
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import { normalizeProjectName } from '../../core/names.js'
import { NotFoundError } from '../../errors.js'
import { encodeSegment, LEGACY_TREE } from '../../render/trees.js'
import type { UpstreamIndex } from '../../upstream/upstream-index.js'
import { redirect } from '../replies.js'
import { fileHandler, localTarget, type FileParams } from './file-handler.js'
import type { IndexRouteOptions } from './route-options.js'
import { sendProjectPage, sendRootPage, withProject, type TreePages } from './tree-pages.js'
import { sendResolvedProject, sendUpstreamFile } from './upstream.js'

interface FolderParams {
  folder: string
}

/** Routes of the original tree. Its pages are negotiated and cached like /simple/'s. */
export const legacyRoutes: FastifyPluginCallback<IndexRouteOptions> = (app, options, done) => {
  const tree: TreePages = {
    options,
    tree: LEGACY_TREE,
    hashAlgorithm: options.hashAlgorithm,
    section: 'legacy',
    upstreamSection: 'upstream-legacy',
  }
  const { upstream } = options
  const list = { onRequest: options.access.hooks('list') }
  app.get('/', list, (request, reply) => sendRootPage(request, reply, tree))

  // Local folders only, also with upstreams: installers always ask for /<name>/, while browsers
  // ask for /favicon.ico and /robots.txt, which are valid project names that must not reach an upstream.
  app.get<{ Params: FolderParams }>('/:folder', list, async (request, reply) => {
    const found = await options.index.findProject(request.params.folder)
    if (found === undefined) throw new NotFoundError()
    return redirect(request, reply, `${encodeSegment(found.folder)}/`)
  })

  app.get<{ Params: FolderParams }>('/:folder/', list, (request, reply) => {
    const { folder } = request.params
    if (upstream !== undefined) return sendResolvedProject(request, reply, tree, upstream, folder)
    return withProject(options.index, folder, (found) => {
      if (found === undefined) throw new NotFoundError()
      // Any spelling that normalizes to the project leads to its folder (pip asks for /<normalized>/).
      if (found.folder !== folder) return redirect(request, reply, `../${encodeSegment(found.folder)}/`)
      return sendProjectPage(request, reply, tree, found)
    })
  })

  // HEAD is declared, not derived: Fastify's derived HEAD would read the whole file stream.
  const local = fileHandler(options)
  app.route<{ Params: FileParams }>({
    method: ['GET', 'HEAD'],
    url: '/:folder/:file',
    onRequest: options.access.hooks('download'),
    handler: upstream === undefined ? local : withUpstreamFiles(local, upstream, options),
  })
  done()
}

type FileRoute = (
  request: FastifyRequest<{ Params: FileParams }>,
  reply: FastifyReply,
) => FastifyReply | Promise<FastifyReply>

// The local file when the eggdir has it; else, when the name rule lets the name reach an
// upstream (not local, or merged), the upstream's file through the same verified download path
// as /files/upstream/<project>/<file>. A never-upstream or purely local name never gets here.
function withUpstreamFiles(local: FileRoute, upstream: UpstreamIndex, options: IndexRouteOptions): FileRoute {
  const settings = { upstream, filesCacheControl: options.filesCacheControl }
  return async (request, reply) => {
    const { folder, file } = request.params
    const found = await options.index.findProject(folder)
    if (found === undefined) {
      // An upstream project's page is at its normalized name, and so are its files.
      if (normalizeProjectName(folder) !== folder || !(await upstream.reachesUpstream(folder)))
        throw new NotFoundError()
      return sendUpstreamFile(request, reply, settings, { project: folder, file })
    }
    // Merged: a filename the eggdir does not have may be the upstream's (a local one wins).
    if (
      found.folder === folder &&
      localTarget(file, (name) => found.file(name)) === undefined &&
      (await upstream.reachesUpstream(folder))
    )
      return sendUpstreamFile(request, reply, settings, { project: found.project, file })
    return local(request, reply)
  }
}
