// The browse UI's project list (/-/) and search (/-/search, and /-/api/search for ui.js), from
// the catalog (src/http/ui/catalog.ts): local projects, and with upstreams the ones their cached
// pages know, each marked with its upstream.
import type { FastifyInstance } from 'fastify'
import { encodeSegment } from '../../render/trees.js'
import { renderHome, renderSearch } from '../../render/ui/home.js'
import { sendRepresentation } from '../page-response.js'
import type { Catalog } from '../ui/catalog.js'
import { queryString, type UiRouteContext } from '../ui/ui-requests.js'

const PAGE_SIZE = 50
const SUGGESTIONS = 10
const SEARCH_RESULTS = 100
const MAX_QUERY = 100

/** GET /-/, /-/search and /-/api/search. */
export function registerCatalogRoutes(app: FastifyInstance, ui: UiRouteContext, catalog: Catalog): void {
  const { assets, list } = ui
  app.get('/', { ...list, prefixTrailingSlash: 'slash' }, async (request, reply) => {
    await catalog.refresh()
    const sort = queryString(request.query, 'sort') === 'updated' ? 'updated' : 'name'
    const pageCount = Math.max(1, Math.ceil(catalog.list(sort, 0, 0).total / PAGE_SIZE))
    const page = Math.min(pageCount, Math.max(1, Number.parseInt(queryString(request.query, 'page') ?? '1', 10) || 1))
    const base = ui.indexBase(request)
    return sendRepresentation(
      request,
      reply,
      ui.options.pages,
      { section: `ui-home|${base}`, name: `${sort}|${page}`, variant: 0 },
      {
        generation: catalog.version,
        lastModifiedMs: 0,
        contentType: 'text/html; charset=utf-8',
        render: () => {
          const { total, rows } = catalog.list(sort, (page - 1) * PAGE_SIZE, PAGE_SIZE)
          return Promise.resolve(
            renderHome({
              assets: assets.names,
              indexUrl: `${base}simple/`,
              total,
              rows,
              page,
              pages: pageCount,
              sort,
              recent: catalog.recent(),
              loading: catalog.loading,
              fromUpstreams: catalog.fromUpstreams,
            }),
          )
        },
      },
    )
  })

  app.get('/search', list, async (request, reply) => {
    await catalog.refresh()
    const query = (queryString(request.query, 'q') ?? '').slice(0, MAX_QUERY)
    const found = catalog.search(query, SEARCH_RESULTS)
    return reply
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(renderSearch({ assets: assets.names, query, rows: found.rows, total: found.total }))
  })

  // The search-as-you-type endpoint of ui.js. URLs are relative to the UI root.
  app.get('/api/search', list, async (request, reply) => {
    await catalog.refresh()
    const query = (queryString(request.query, 'q') ?? '').slice(0, MAX_QUERY)
    const found = catalog.search(query, SUGGESTIONS)
    const results = found.rows.map((row) => ({
      name: row.folder,
      project: row.project,
      version: row.version ?? null,
      summary: row.summary ?? null,
      url: `project/${encodeSegment(row.project)}/`,
      // An upstream project says so, with the upstream's label (never its credentials).
      ...(row.origin === undefined ? {} : { origin: 'upstream', upstream: row.origin }),
    }))
    return reply
      .header('cache-control', 'no-store')
      .type('application/json')
      .send(JSON.stringify({ query, total: found.total, results }))
  })
}
