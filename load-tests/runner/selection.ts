/**
 * The projects voter `index` approves: 1..maxChoices distinct options, a pure function of the index
 * (xorshift32), so runs repeat and the Node runner and the k6 script cast the same ballots.
 * Plain TypeScript with no imports: k6 loads this file too.
 */
export const selectionOf = (index: number, optionIds: string[], maxChoices: number): string[] => {
  let x = ((index + 1) * 2654435761) | 0;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const k = 1 + Math.floor(rand() * Math.min(maxChoices, optionIds.length));
  const pool = [...optionIds];
  const chosen: string[] = [];
  for (let i = 0; i < k; i++) chosen.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
  return chosen;
};
