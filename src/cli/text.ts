/** Plain-text layout shared by the renderers: word wrapping. */

/**
 * `text` split into lines of at most `width` characters at white space (collapsed); a word longer
 * than `width` gets a line of its own. Empty text gives no lines.
 */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
