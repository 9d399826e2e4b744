/**
 * `npm run verify -- <receipt.json | tracker> [--nodes URLS --keys VKEYS --origin ORIGIN]`: checks one
 * ballot against the ledger nodes exactly as the portal does in the browser. Exit 0 only if every check
 * passes; each check prints one line saying why.
 */
import { existsSync, readFileSync } from 'node:fs';
import { checkBallot, parseBallotInput } from '../lib/checkBallot.ts';
import { cliContext, formatLine, runCli, UsageError } from '../cliSupport.ts';

runCli('npm run verify -- <receipt.json | tracker> [--nodes URL,URL,URL,URL --keys VKEY,… --origin ORIGIN]', async () => {
  const { arg, ctx } = cliContext(process.argv.slice(2));
  const input = existsSync(arg) ? parseBallotInput(readFileSync(arg, 'utf8')) : { tracker: arg };
  if ('error' in input) throw new UsageError(`${arg}: ${input.error}`);
  const result = await checkBallot(input, ctx);
  for (const l of result.lines) console.log(formatLine(l));
  console.log(result.ok ? 'VERIFIED: this ballot is in the ledger as recorded.' : 'NOT VERIFIED: see the failed checks above.');
  return result.ok;
});
