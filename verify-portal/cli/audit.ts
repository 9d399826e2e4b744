/**
 * `npm run audit -- <pollId> [--out audit.json] [--nodes URLS --keys VKEYS --origin ORIGIN]`: the full
 * audit of a closed poll, as the portal's "Check a poll": downloads the log up to the latest
 * quorum-signed checkpoint, recomputes its root, recounts the poll and compares with the published
 * result and the nodes' signed tallies. Exit 0 only if verified; one line per check.
 */
import { writeFileSync } from 'node:fs';
import { auditPoll } from '../lib/auditPoll.ts';
import { cliContext, formatLine, runCli } from '../cliSupport.ts';

runCli('npm run audit -- <pollId> [--out audit.json] [--nodes URL,URL,URL,URL --keys VKEY,… --origin ORIGIN]', async () => {
  const { arg, values, ctx } = cliContext(process.argv.slice(2), { out: { type: 'string' } });
  let shown = 0;
  const audit = await auditPoll(arg, ctx, (p) => {
    if (process.stderr.isTTY && (p.done - shown >= 50_000 || p.done === p.total)) {
      shown = p.done;
      process.stderr.write(`\r${p.done} / ${p.total} entries hashed`);
    }
  });
  if (process.stderr.isTTY && shown > 0) process.stderr.write('\n');
  for (const l of audit.lines) console.log(formatLine(l));
  if (audit.recount) {
    for (const q of audit.recount.questions) console.log(`  ${q.questionId}: ${q.options.map((o) => `${o.optionId}=${o.count}`).join(' ')}`);
    if (audit.recount.budget) console.log(`  funded: ${audit.recount.budget.funded.join(', ')}`);
  }
  if (typeof values.out === 'string' && audit.openData) {
    writeFileSync(values.out, JSON.stringify(audit.openData));
    console.log(`open data written to ${values.out}`);
  }
  console.log(audit.verdict.toUpperCase());
  return audit.verdict === 'verified';
});
