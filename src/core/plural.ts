// Counts in messages: "1 project", "2 projects", never "1 projects".

/**
 * `count` followed by the noun, singular for exactly 1 and plural otherwise (0 too). The
 * plural defaults to the singular plus "s"; give it for irregular nouns.
 * @example plural(1, 'file') // "1 file"
 * @example plural(3, 'file') // "3 files"
 * @example plural(2, 'entry', 'entries') // "2 entries"
 */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`
}
