// Hostile package metadata and READMEs for the browse UI's tests. Every payload, if it ever
// ran, would set window.__pwned or make a request to `beacon` (a loopback listener that counts
// hits); the tests check both in a real browser. Sources: the OWASP XSS filter evasion cheat
// sheet, published sanitizer bypasses (sanitize-html GHSA-rpr9-rxv7-x643 / CVE-2026-44990 <xmp>,
// GHSA-jxwj-j7wr-gfrw textarea mis-close and SVG SMIL animate; DOMPurify 2.0.0 <mglyph> and
// 2.2.2 <form> mutation XSS), and DOM clobbering.

/** One-line payloads: for metadata fields and README bodies alike. */
export function xssPayloads(beacon: string): string[] {
  return [
    `<script>window.__pwned='script';fetch('${beacon}/script')</script>`,
    `<script src="${beacon}/script.js"></script>`,
    `<img src="${beacon}/img" onerror="window.__pwned='img'">`,
    `<img src=x onerror=window.__pwned='img2'>`,
    `<svg onload="window.__pwned='svg'"><circle r="1"/></svg>`,
    `<svg><script>window.__pwned='svgscript'</script></svg>`,
    `<svg><a><animate attributeName="href" values="#x;javascript:window.__pwned='smil'"/><text y="10">smil</text></a></svg>`,
    `<a href="javascript:window.__pwned='js'">js link</a>`,
    `<a href="jav&#x09;ascript:window.__pwned='jstab'">tab link</a>`,
    `<a href="data:text/html,<script>parent.__pwned='data'</script>">data link</a>`,
    `<iframe src="${beacon}/iframe"></iframe>`,
    `<iframe srcdoc="<script>parent.__pwned='srcdoc'</script>"></iframe>`,
    `<object data="${beacon}/object"></object><embed src="${beacon}/embed">`,
    `<xmp><script>window.__pwned='xmp'</script></xmp>`,
    `<textarea></textarea/><img src=x onerror="window.__pwned='textarea'">`,
    `<svg><textarea><img src=x onerror="window.__pwned='svgtextarea'"></textarea></svg>`,
    `<noscript><p title="</noscript><img src=x onerror=window.__pwned='noscript'>">`,
    `<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned='mglyph'>`,
    `<form><math><mtext></form><form><mglyph><svg><mtext><style><path id="</style><img onerror=window.__pwned='form' src>">`,
    `<style>@import '${beacon}/import.css';</style>`,
    `<p style="background:url(${beacon}/style)">styled</p>`,
    `<link rel="stylesheet" href="${beacon}/link.css"><base href="${beacon}/base/">`,
    `<meta http-equiv="refresh" content="0;url=${beacon}/refresh">`,
    `<div id="q">clobber</div><form id="suggestions"></form><img name="getElementById"><a id="__proto__">proto</a>`,
    `<input type="checkbox" onfocus="window.__pwned='input'" autofocus><input type="text" autofocus onfocus="window.__pwned='input2'">`,
    `<details open ontoggle="window.__pwned='toggle'"><summary>t</summary></details>`,
    `<video><source onerror="window.__pwned='video'"></video>`,
    `"><script>window.__pwned='attr'</script>`,
    `</title><script>window.__pwned='title'</script>`,
    `<!--<img src="--><img src=x onerror=window.__pwned='comment'>-->`,
    `<scr<script>ipt>window.__pwned='nested'</script>`,
    `&lt;script&gt;window.__pwned='entity'&lt;/script&gt;`,
  ]
}

/** A Markdown README with every payload, plus Markdown's own ways in. */
export function markdownReadme(beacon: string): string {
  return (
    [
      '# XSS corpus',
      ...xssPayloads(beacon),
      `[md link](javascript:window.__pwned='mdlink')`,
      `[md data](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX19wd25lZD0xPC9zY3JpcHQ+)`,
      `![remote image](${beacon}/mdimg)`,
      `![data image](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIj48L3N2Zz4=)`,
      '```html\n<script>window.__pwned="fence"</script>\n```',
    ].join('\n\n') + '\n'
  )
}

/** A reStructuredText README with its own ways in. */
export function rstReadme(beacon: string): string {
  return [
    'XSS corpus',
    '==========',
    '',
    `A \`js link <javascript:window.__pwned='rst'>\`_ and an image:`,
    '',
    `.. image:: ${beacon}/rstimg`,
    '   :alt: remote',
    '',
    `Text with <script>window.__pwned='rsttext'</script> inline.`,
    '',
  ].join('\n')
}
