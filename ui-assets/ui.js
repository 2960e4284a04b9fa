// eggserve browse UI: copy buttons and search as you type. Progressive: every page works without it.
'use strict'

document.addEventListener('DOMContentLoaded', () => {
  setUpCopyButtons()
  setUpSuggestions()
})

function announce(id, text) {
  const region = document.getElementById(id)
  if (region !== null) region.textContent = text
}

function setUpCopyButtons() {
  if (navigator.clipboard === undefined) return
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const target = document.getElementById(button.dataset.copy)
    if (target === null) continue
    button.hidden = false
    button.addEventListener('click', () => {
      navigator.clipboard.writeText(target.textContent).then(
        () => {
          button.firstChild.textContent = 'Copied'
          announce('copy-status', 'Copied to the clipboard')
          setTimeout(() => {
            button.firstChild.textContent = 'Copy'
          }, 2000)
        },
        () => {
          announce('copy-status', 'Could not copy; select the text instead')
        },
      )
    })
  }
}

function setUpSuggestions() {
  const input = document.getElementById('q')
  const list = document.getElementById('suggestions')
  if (input === null || list === null || typeof fetch !== 'function') return
  const endpoint = input.dataset.suggest
  const root = input.dataset.root ?? ''
  let timer
  let controller
  const clear = () => {
    list.hidden = true
    list.replaceChildren()
  }
  input.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(async () => {
      const query = input.value.trim()
      controller?.abort()
      if (query === '') {
        clear()
        announce('suggest-status', '')
        return
      }
      controller = new AbortController()
      try {
        const response = await fetch(`${endpoint}?q=${encodeURIComponent(query)}`, {
          signal: controller.signal,
          headers: { accept: 'application/json' },
        })
        if (!response.ok) return
        show(await response.json())
      } catch (err) {
        if (err.name !== 'AbortError') clear()
      }
    }, 150)
  })
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') clear()
  })
  function show(data) {
    const items = data.results.map((result) => {
      const item = document.createElement('li')
      const link = document.createElement('a')
      link.href = root + result.url
      link.textContent = result.version === null ? result.name : `${result.name} ${result.version}`
      item.append(link)
      if (result.summary !== null) {
        const summary = document.createElement('span')
        summary.className = 'muted'
        summary.textContent = result.summary
        item.append(summary)
      }
      // A project only an upstream index has (its page cached here) names that upstream.
      if (result.origin === 'upstream') {
        const origin = document.createElement('span')
        origin.className = 'muted'
        origin.textContent = `upstream ${result.upstream}`
        item.append(origin)
      }
      return item
    })
    list.replaceChildren(...items)
    list.hidden = items.length === 0
    const more = data.total > items.length ? ` (showing ${items.length}; press Enter for all)` : ''
    announce('suggest-status', `${data.total} ${data.total === 1 ? 'project' : 'projects'} found${more}`)
  }
}
