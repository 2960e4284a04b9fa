// The file handler both trees share: /<folder>/<file> and /packages/<folder>/<file>, with the
// PEP 658 metadata of wheels at <file URL>.metadata and signatures at <file URL>.asc.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { DistFile } from '../../core/index-model.js'
import { NotFoundError } from '../../errors.js'
import { encodeSegment } from '../../render/trees.js'
import { SIGNATURE_SUFFIX } from '../../core/signatures.js'
import { sendDistribution } from '../download.js'
import { sendRedirect } from '../download-redirect.js'
import { sendMetadata } from '../metadata-response.js'
import { redirect } from '../replies.js'
import type { IndexRouteOptions } from './route-options.js'
import { withProject } from './tree-pages.js'

/** Route params of a file URL. */
export interface FileParams {
  folder: string
  file: string
}

const METADATA_SUFFIX = '.metadata'

/** A local file URL's target. */
export interface Target {
  readonly kind: 'file' | 'signature' | 'metadata'
  readonly file: DistFile
}

/**
 * Serve a file the index knows, and nothing else: the path is never built from the URL,
 * so "..", encoded separators, NUL bytes, dotfiles and non-distributions all end in 404.
 * A folder spelled differently but naming the same project is redirected.
 */
export function fileHandler({
  index,
  files,
  metadata,
  filesCacheControl,
  offload,
  redirect: redirector,
}: Pick<IndexRouteOptions, 'index' | 'files' | 'metadata' | 'filesCacheControl' | 'offload' | 'redirect'>) {
  // Synchronous while the index holds the project fresh (withProject) and the file is held in
  // memory (sendDistribution): a small download then waits on no promise, as a cached page.
  return (
    request: FastifyRequest<{ Params: FileParams }>,
    reply: FastifyReply,
  ): FastifyReply | Promise<FastifyReply> => {
    const { folder, file } = request.params
    return withProject(index, folder, (found, trusted) => {
      if (found === undefined) throw new NotFoundError()
      const target = localTarget(file, (name) => found.file(name))
      if (target === undefined) throw new NotFoundError()
      if (found.folder !== folder)
        return redirect(request, reply, `../${encodeSegment(found.folder)}/${encodeSegment(file)}`)
      if (filesCacheControl !== undefined) reply.header('cache-control', filesCacheControl)
      // Only the archive goes: the metadata is eggserve's own (extracted, cached), and a signature
      // is small and may not exist, which only opening it here finds out (a redirect would not).
      if (redirector !== undefined && target.kind === 'file')
        return redirector(target.file.key).then((location) => sendRedirect(reply, location))
      switch (target.kind) {
        case 'metadata':
          return sendMetadata(request, reply, { metadata, file: target.file })
        // PEP 503: a signature is served when it is on disk, for a file the index knows.
        case 'signature':
          return sendDistribution(request, reply, {
            files,
            offload,
            key: target.file.key + SIGNATURE_SUFFIX,
            filename: file,
          })
        case 'file':
          return sendDistribution(request, reply, {
            files,
            offload,
            key: target.file.key,
            filename: target.file.filename,
            identity: target.file.identity,
            listed: target.file,
            // A trusted folder has had no watch event since it was checked (see SmallFileCache.held()).
            vouched: trusted,
          })
      }
    })
  }
}

/** What a file URL's last segment names among a project's files: a file, its signature or its metadata. */
export function localTarget(name: string, lookup: (filename: string) => DistFile | undefined): Target | undefined {
  const known = lookup(name)
  if (known !== undefined) return { kind: 'file', file: known }
  for (const [suffix, kind] of [
    [SIGNATURE_SUFFIX, 'signature'],
    [METADATA_SUFFIX, 'metadata'],
  ] as const) {
    if (!name.endsWith(suffix)) continue
    const base = lookup(name.slice(0, -suffix.length))
    // PEP 658: wheels only.
    if (base !== undefined && (kind === 'signature' || base.parsed.kind === 'wheel')) return { kind, file: base }
  }
  return undefined
}
