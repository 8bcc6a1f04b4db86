/**
 * Python's `textwrap.wrap(text, width, drop_whitespace=True, break_on_hyphens=False,
 * tabsize=1)` as the reference calls it: greedy filling of whitespace-separated chunks,
 * over-long words cut to fill the line, whitespace dropped at line edges.
 */
export function textwrap(text: string, width: number): string[] {
  if (width <= 0) throw new RangeError(`invalid width ${width}`);
  // expand_tabs (tabsize 1) and replace_whitespace turn each whitespace char into a space.
  const normalised = text.replace(/\t/g, ' ').replace(/[\n\v\f\r]/g, ' ');
  const chunks = normalised.split(/( +)/).filter((c) => c !== '');
  chunks.reverse();
  const lines: string[] = [];
  while (chunks.length > 0) {
    const line: string[] = [];
    let len = 0;
    if ((chunks.at(-1) as string).trim() === '' && lines.length > 0) chunks.pop();
    while (chunks.length > 0) {
      const chunk = chunks.at(-1) as string;
      if (len + chunk.length <= width) {
        line.push(chunk);
        len += chunk.length;
        chunks.pop();
      } else break;
    }
    if (chunks.length > 0 && (chunks.at(-1) as string).length > width) {
      const chunk = chunks.pop() as string;
      // Python puts chunk[:width - cur_len] here, which may be empty when the line is full.
      const room = width - len;
      line.push(chunk.slice(0, room));
      len += room;
      chunks.push(chunk.slice(room));
    }
    if (line.length > 0 && (line.at(-1) as string).trim() === '') {
      len -= (line.pop() as string).length;
    }
    if (line.length > 0) lines.push(line.join(''));
  }
  return lines;
}
