// The file handler both trees share: /<folder>/<file> and /packages/<folder>/<file>, with the
// PEP 658 metadata of wheels at <file URL>.metadata.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { encodeSegment } from '../../render/trees.js'
import { sendDistribution } from '../download.js'
import { NotFoundError } from '../http-errors.js'
import { sendMetadata } from '../metadata-response.js'
import { redirect } from '../replies.js'
import type { IndexRouteOptions } from './route-options.js'

/** Route params of a file URL. */
export interface FileParams { folder: string; file: string }

const METADATA_SUFFIX = '.metadata'

/**
 * Serve a file the index knows, and nothing else: the path is never built from the URL,
 * so "..", encoded separators, NUL bytes, dotfiles and non-distributions all end in 404
 * (checklist A-6). A folder spelled differently but naming the same project is redirected.
 */
export function fileHandler ({ index, storage, metadata }: Pick<IndexRouteOptions, 'index' | 'storage' | 'metadata'>) {
  return async (request: FastifyRequest<{ Params: FileParams }>, reply: FastifyReply): Promise<FastifyReply> => {
    const { folder, file } = request.params
    const found = await index.find(folder)
    if (found === undefined) throw new NotFoundError()
    const known = index.file(found.project, file)
    // PEP 658: wheels only (checklist M-2), at the file's URL plus ".metadata".
    const described = known === undefined && file.endsWith(METADATA_SUFFIX) ? index.file(found.project, file.slice(0, -METADATA_SUFFIX.length)) : undefined
    const target = known ?? (described?.parsed.kind === 'wheel' ? described : undefined)
    if (target === undefined) throw new NotFoundError()
    if (found.folder !== folder) return redirect(request, reply, `../${encodeSegment(found.folder)}/${encodeSegment(file)}`)
    if (known === undefined) return sendMetadata(request, reply, { metadata, file: target })
    return sendDistribution(request, reply, { storage, key: known.key, filename: known.filename })
  }
}
