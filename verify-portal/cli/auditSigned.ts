/**
 * `npm run audit-signed -- [--nodes URLS --keys VKEYS --origin ORIGIN]`: every checkpoint body each node
 * has ever signed, compared with the root the ledger itself has at that size (lib/signedHistory.ts), in
 * bounded memory however long the log. Exit 0 only if every node's bodies are the ledger's; a node that
 * signed another root is named with its note and the quorum checkpoint as evidence.
 */
import { auditSignedHistory } from '../lib/signedHistory.ts';
import { cliContext, formatLine, runCli } from '../cliSupport.ts';

runCli('npm run audit-signed -- [--nodes URL,URL,URL,URL --keys VKEY,… --origin ORIGIN]', async () => {
  const { ctx } = cliContext(process.argv.slice(2), {}, false);
  let shown = 0;
  const report = await auditSignedHistory(ctx, (p) => {
    if (process.stderr.isTTY && (p.entries - shown >= 50_000 || p.entries === p.total)) {
      shown = p.entries;
      process.stderr.write(`\r${p.entries} / ${p.total} entries hashed, ${p.bodies} signed bodies compared`);
    }
  });
  if (process.stderr.isTTY && shown > 0) process.stderr.write('\n');
  for (const l of report.lines) console.log(formatLine(l));
  for (const m of report.misbehaving) {
    console.log(`MISBEHAVING ${m.signer}: ${m.reason}`);
    for (const note of m.evidence) console.log(note.split('\n').map((l) => `  ${l}`).join('\n'));
  }
  console.log(`${report.compared} signed bodies compared with the ledger${report.beyond > 0 ? `; ${report.beyond} signed after the checkpoint audited to` : ''}`);
  console.log(report.ok ? 'VERIFIED: every body the nodes signed has the ledger\'s root at its size.' : 'NOT VERIFIED: see the failed checks above.');
  return report.ok;
});
