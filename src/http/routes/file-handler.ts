// The download handler both trees share: /<folder>/<file> and /packages/<folder>/<file>.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { encodeSegment } from '../../render/trees.js'
import { sendDistribution } from '../download.js'
import { NotFoundError } from '../http-errors.js'
import { redirect } from '../replies.js'
import type { IndexRouteOptions } from './route-options.js'

/** Route params of a file URL. */
export interface FileParams { folder: string; file: string }

/**
 * Serve a file the index knows, and nothing else: the path is never built from the URL,
 * so "..", encoded separators, NUL bytes, dotfiles and non-distributions all end in 404
 * (checklist A-6). A folder spelled differently but naming the same project is redirected.
 */
export function fileHandler ({ index, storage }: Pick<IndexRouteOptions, 'index' | 'storage'>) {
  return async (request: FastifyRequest<{ Params: FileParams }>, reply: FastifyReply): Promise<FastifyReply> => {
    const { folder, file } = request.params
    const found = await index.find(folder)
    const known = found === undefined ? undefined : await index.file(found.project, file)
    if (found === undefined || known === undefined) throw new NotFoundError()
    if (found.folder !== folder) return redirect(request, reply, `../${encodeSegment(found.folder)}/${encodeSegment(file)}`)
    return sendDistribution(request, reply, { storage, key: known.key, filename: known.filename })
  }
}
