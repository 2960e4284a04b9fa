// The browse UI's fixture: `big-project` with 1,000 wheels (100 versions × 10 Python tags, a
// Markdown README of 60 paragraphs) and `small`, a one-file project whose page starts the README
// worker. Valid wheels from the test suite's builder, so the page shows real metadata.
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { buildWheel, writeDist } from '../../test/helpers/distributions.js'

export const UI_BIG_PROJECT = 'big-project'
export const UI_SMALL_PROJECT = 'small'
export const UI_BIG_FILES = 1000

const TAGS = ['cp38', 'cp39', 'cp310', 'cp311', 'cp312', 'cp313', 'pp39', 'pp310', 'py2', 'py3']

/** Write the fixture into `dir` (an empty or missing folder). */
export async function writeUiTree(dir: string): Promise<void> {
  const paragraphs = Array.from(
    { length: 60 },
    (_, i) =>
      `Paragraph ${i} with \`code\`, **bold** and a [link](https://example.org/${i}): ${createHash('sha256').update(String(i)).digest('hex')}.`,
  )
  const readme = {
    metadataLines: [
      'Description-Content-Type: text/markdown',
      'License: MIT',
      'Project-URL: Docs, https://example.org/',
    ],
    description: `# Big project\n\n${paragraphs.join('\n\n')}\n`,
  }
  for (let minor = 0; minor < UI_BIG_FILES / TAGS.length; minor++) {
    for (const tag of TAGS) {
      await writeDist(
        join(dir, UI_BIG_PROJECT),
        buildWheel(
          { name: UI_BIG_PROJECT, version: `1.${minor}`, summary: 'A project with 1,000 files', ...readme },
          { pythonTag: tag },
        ),
      )
    }
  }
  await writeDist(
    join(dir, UI_SMALL_PROJECT),
    buildWheel({
      name: UI_SMALL_PROJECT,
      version: '1.0',
      metadataLines: ['Description-Content-Type: text/markdown'],
      description: '# Small\n',
    }),
  )
}
