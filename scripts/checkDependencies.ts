/**
 * CI's dependency check (`npm run deps:check`):
 * 1. every installed package's licence (license-checker reads them; SPDX expressions parsed with
 *    spdx-expression-parse: AND needs every part allowed, OR any) is on the allow-list below;
 * 2. every direct dependency and dev dependency in package.json has its entry in docs/DEPENDENCIES.md;
 * 3. `npm audit --omit=dev` finds no high or critical advisory that has a fix. When the advisory
 *    service cannot be reached (a closed network answers npm's POST with 405), it says so and does
 *    not fail: that is a missing check, printed as such, not a pass.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import checker from 'license-checker';
import parseSpdx from 'spdx-expression-parse';

// Permissive licences, and MPL-2.0 (file-level copyleft: we ship those files unmodified, e.g. axe-core in
// the browser tests). CC-BY-3.0 covers the SPDX licence-list data that license-checker itself reads.
const ALLOWED = new Set([
  'MIT', 'ISC', 'BSD-2-Clause', 'BSD-3-Clause', 'Apache-2.0', '0BSD', 'BlueOak-1.0.0', 'CC0-1.0', 'Zlib',
  'MPL-2.0', 'CC-BY-3.0', 'Unlicense', 'Python-2.0',
]);

type SpdxNode = { license?: string; conjunction?: 'and' | 'or'; left?: SpdxNode; right?: SpdxNode };

const allowedExpression = (node: SpdxNode): boolean =>
  node.license !== undefined
    ? ALLOWED.has(node.license)
    : node.conjunction === 'and'
      ? allowedExpression(node.left!) && allowedExpression(node.right!)
      : allowedExpression(node.left!) || allowedExpression(node.right!);

const licenceProblems = async (): Promise<string[]> => {
  const packages = await new Promise<Record<string, { licenses?: string | string[]; private?: boolean }>>((resolve, reject) =>
    checker.init({ start: process.cwd(), excludePrivatePackages: true }, (error, json) => (error ? reject(error) : resolve(json))),
  );
  const problems: string[] = [];
  for (const [name, info] of Object.entries(packages)) {
    const licences = [info.licenses ?? 'UNKNOWN'].flat();
    for (const licence of licences) {
      let ok = false;
      try {
        ok = allowedExpression(parseSpdx(licence.replace(/\*$/, '')) as SpdxNode);
      } catch {
        ok = false;
      }
      if (!ok) problems.push(`${name}: licence "${licence}" is not on the allow-list (scripts/checkDependencies.ts)`);
    }
  }
  return problems;
};

const undocumented = (): string[] => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies?: object; devDependencies?: object };
  const doc = readFileSync('docs/DEPENDENCIES.md', 'utf8');
  return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]
    .filter((name) => !doc.includes(`\`${name}\``))
    .map((name) => `${name}: no entry in docs/DEPENDENCIES.md (what it is for, why, licence)`);
};

interface AuditReport {
  vulnerabilities?: Record<string, { severity: string; fixAvailable: unknown; via: unknown[] }>;
  message?: string;
  error?: unknown;
}

const auditProblems = async (): Promise<string[]> => {
  let stdout = '';
  try {
    ({ stdout } = await promisify(execFile)('npm', ['audit', '--omit=dev', '--json'], { maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    // npm audit exits non-zero both when it finds advisories and when it cannot ask.
    stdout = (error as { stdout?: string }).stdout ?? '';
  }
  let report: AuditReport;
  try {
    report = JSON.parse(stdout) as AuditReport;
  } catch {
    console.log('deps: npm audit gave no report; advisories NOT checked');
    return [];
  }
  if (!report.vulnerabilities) {
    console.log(`deps: the advisory service could not be asked (${report.message ?? 'no answer'}); advisories NOT checked on this machine`);
    return [];
  }
  return Object.entries(report.vulnerabilities)
    .filter(([, v]) => (v.severity === 'high' || v.severity === 'critical') && v.fixAvailable !== false)
    .map(([name, v]) => `${name}: ${v.severity} advisory with a fix available (npm audit --omit=dev)`);
};

const problems = [...(await licenceProblems()), ...undocumented(), ...(await auditProblems())];
for (const problem of problems) console.error(`deps: ${problem}`);
if (problems.length > 0) process.exit(1);
console.log('deps: every licence allowed, every dependency documented');
