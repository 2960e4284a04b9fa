// The root and project pages of one tree (original or PEP 503), in HTML or JSON.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { V1_JSON, type SimpleMediaType } from '../../core/negotiation.js'
import { renderProjectHtml, renderRootHtml } from '../../render/simple-html.js'
import { renderProjectJson, renderRootJson } from '../../render/simple-json.js'
import type { Tree } from '../../render/trees.js'
import { NotFoundError } from '../http-errors.js'
import { sendPage } from '../page-response.js'
import type { IndexRouteOptions } from './route-options.js'

/** Send the root page of `tree`. */
export async function sendRootPage (request: FastifyRequest, reply: FastifyReply, options: IndexRouteOptions & { tree: Tree; name: string }): Promise<FastifyReply> {
  const root = await options.index.root()
  return sendPage(request, reply, options.pages, {
    key: `${options.name}|`,
    version: root.generation,
    lastModifiedMs: root.lastModifiedMs,
    render: (type: SimpleMediaType) => Promise.resolve(type === V1_JSON ? renderRootJson(root.projects) : renderRootHtml(root.projects, options.tree)),
  })
}

/** Send a project's page in `tree`; `project` was just found (and so is fresh). */
export async function sendProjectPage (
  request: FastifyRequest,
  reply: FastifyReply,
  options: IndexRouteOptions & { tree: Tree; name: string; project: { project: string; generation: number; lastModifiedMs: number } },
): Promise<FastifyReply> {
  const { index, tree, hashAlgorithm, project } = options
  return sendPage(request, reply, options.pages, {
    key: `${options.name}|${project.project}`,
    version: project.generation,
    lastModifiedMs: project.lastModifiedMs,
    render: async (type: SimpleMediaType) => {
      const page = await index.page(project.project)
      if (page === undefined) throw new NotFoundError()
      return type === V1_JSON ? renderProjectJson(page, tree) : renderProjectHtml(page, tree, hashAlgorithm)
    },
  })
}
