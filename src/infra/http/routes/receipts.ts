import Router from '@koa/router';
import type { Context } from 'koa';
import type { ReceiptLookup } from '../../ledger/ledgerServices.ts';
import { refusalMessage } from '../i18n/index.ts';
import { renderPage, type PageGlobals } from '../views.ts';
import { portalHref } from './siteViews.ts';

export interface ReceiptRouteDeps {
  receipt: (tracker: string) => Promise<ReceiptLookup>;
}

/** The note's body and the names of the keys on its signature lines (`— name base64`). */
const splitNote = (note: string) => {
  const [body = '', sigs = ''] = note.split('\n\n');
  return { body, signers: sigs.split('\n').filter((l) => l.startsWith('\u2014 ')).map((l) => l.slice(2).split(' ')[0]!) };
};

const viewModel = (ctx: Context, tracker: string, found: ReceiptLookup) => {
  const { t, portalUrl, lang } = ctx.state.page as PageGlobals;
  const base = { title: t('ledger.receipt.title'), tracker, state: found.status, fragment: (ctx.state.page as PageGlobals).isHtmx };
  if (found.status !== 'anchored') return base;
  const { receipt, finalSize } = found;
  const verifyUrl = portalHref(portalUrl, lang, { tracker: receipt.tracker });
  return { ...base, leafIndex: receipt.leafIndex, treeSize: finalSize, entry: JSON.stringify(receipt.entry, null, 2), ...splitNote(receipt.checkpoint), proof: receipt.inclusionProof, verifyUrl };
};

/** A voter's receipt as a page (Korean/English, polls itself while pending) and as Receipt JSON. */
export const receiptRoutes = (deps: ReceiptRouteDeps): Router => {
  const router = new Router();
  router.get('/receipts/:tracker', async (ctx) => {
    const found = await deps.receipt(ctx.params.tracker!);
    const tracker = found.status === 'unknown' ? ctx.params.tracker! : (found.entry?.tracker ?? ctx.params.tracker!);
    renderPage(ctx, 'pages/receipt', viewModel(ctx, tracker, found), found.status === 'unknown' ? { status: 404 } : {});
  });
  router.get('/api/receipts/:tracker', async (ctx) => {
    const found = await deps.receipt(ctx.params.tracker!);
    if (found.status === 'anchored') ctx.body = found.receipt;
    else if (found.status === 'pending') [ctx.status, ctx.body] = [202, { status: 'pending' }];
    else [ctx.status, ctx.body] = [404, { error: { code: 'receipt.not-found', message: refusalMessage((ctx.state.page as PageGlobals).t, 'receipt.not-found', 'No ballot has this tracker code') } }];
  });
  return router;
};
