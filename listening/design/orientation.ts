/**
 * Left/right balance within one rater's session.
 *
 * Raters lean toward one side (often the first clip heard), so every item should appear on
 * the left as often as on the right for each rater. Treat each A/B trial as an edge between
 * its two items; orienting the edges (tail = left) so that every item has as many outgoing
 * as incoming edges is an Euler-circuit problem: pair up the odd-degree items through a
 * dummy vertex, walk closed trails through unused edges (in a graph of even degrees a walk
 * can only get stuck where it started), and orient each edge in walking direction. After the
 * dummy edges are removed every item is off balance by at most one, which no orientation can
 * beat for an item of odd degree. Shuffled adjacency and start points keep it random.
 */
import { type Rng, shuffled } from '../rng.ts';

/** For each pair, true when it should be shown as [b, a] instead of [a, b]. */
export function balancedSwaps(pairs: ReadonlyArray<readonly [string, string]>, rng: Rng): boolean[] {
  const dummy = '\u0000dummy';
  const edges: Array<[string, string]> = pairs.map(([a, b]) => [a, b]);
  const adjacency = new Map<string, number[]>();
  const link = (v: string, e: number): void => {
    const list = adjacency.get(v) ?? [];
    list.push(e);
    adjacency.set(v, list);
  };
  edges.forEach(([a, b], e) => {
    link(a, e);
    link(b, e);
  });
  for (const [v, list] of [...adjacency.entries()]) {
    if (list.length % 2 === 1) {
      link(v, edges.length);
      link(dummy, edges.length);
      edges.push([v, dummy]);
    }
  }
  for (const [v, list] of adjacency) adjacency.set(v, shuffled(list, rng));
  const used = new Array<boolean>(edges.length).fill(false);
  const tailOf = new Array<string>(edges.length).fill('');
  const cursor = new Map<string, number>();
  const nextUnused = (v: string): number | undefined => {
    const list = adjacency.get(v) ?? [];
    let i = cursor.get(v) ?? 0;
    while (i < list.length && used[list[i] as number]) i++;
    cursor.set(v, i);
    return list[i];
  };
  for (const start of shuffled([...adjacency.keys()], rng)) {
    for (let e = nextUnused(start); e !== undefined; e = nextUnused(start)) {
      let current = start;
      for (let edge: number | undefined = e; edge !== undefined; edge = nextUnused(current)) {
        used[edge] = true;
        tailOf[edge] = current;
        const [a, b] = edges[edge] as [string, string];
        current = current === a ? b : a;
      }
    }
  }
  return pairs.map(([a], i) => tailOf[i] !== a);
}

/** A sequence of sides, half left and half right (the odd one out at random), shuffled. */
export function balancedSides(count: number, rng: Rng): Array<'left' | 'right'> {
  const sides: Array<'left' | 'right'> = [];
  const extra = rng.next() < 0.5 ? 'left' : 'right';
  for (let i = 0; i < count; i++)
    sides.push(i < Math.floor(count / 2) ? 'left' : i < 2 * Math.floor(count / 2) ? 'right' : extra);
  return shuffled(sides, rng);
}
