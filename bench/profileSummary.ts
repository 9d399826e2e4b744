import { readFileSync } from 'node:fs';

/**
 * `tsx bench/profileSummary.ts FILE.cpuprofile [TOP]`: where a V8 CPU profile's samples went, as a
 * markdown summary: self time by area (the app's own modules by folder, each dependency, Node's
 * internals, GC, idle) and the top functions by self time.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const areaOf = (node: ProfileNode): string => {
  const { functionName, url } = node.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url === '') return `native: ${functionName || '(anonymous)'}`.slice(0, 60);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `dep: ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`;
  const src = url.indexOf('/src/');
  if (src >= 0) return `app: src/${url.slice(src + 5).split('/').slice(0, -1).join('/')}`;
  return url.replace(/^file:\/\//, '').slice(-60);
};

export const summarise = (profile: Profile, top = 15): string => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const area = areaOf(node);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules\/|src\/)/, '$1')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const busy = total - (areas.get('idle') ?? 0);
  const pct = (us: number) => `${((100 * us) / Math.max(1, busy)).toFixed(1)}%`;
  const lines = [
    `Profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (idle left out of the percentages).`,
    '',
    '| area (self time) | share of busy |',
    '|---|---|',
    ...[...areas].filter(([a]) => a !== 'idle').sort((a, b) => b[1] - a[1]).slice(0, top).map(([a, us]) => `| ${a} | ${pct(us)} |`),
    '',
    '| function (self time) | share of busy |',
    '|---|---|',
    ...[...fns].filter(([f]) => !f.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top).map(([f, us]) => `| \`${f}\` | ${pct(us)} |`),
  ];
  return lines.join('\n');
};

if (process.argv[1]?.endsWith('profileSummary.ts')) {
  const [file, top] = process.argv.slice(2);
  console.log(summarise(JSON.parse(readFileSync(file!, 'utf8')) as Profile, Number(top ?? 15)));
}
