import Router from '@koa/router';
import { displayPhone } from '../../../app/identity/phone.ts';
import type { OutboxMessage } from '../../sms/outbox.ts';
import { renderPage, type PageGlobals } from '../views.ts';

/** GET /dev/sms: the development outbox. Mounted only when NODE_ENV is not production. */
export const devSmsRoutes = (deps: { readOutbox: () => Promise<OutboxMessage[]> }): Router => {
  const router = new Router();
  router.get('/dev/sms', async (ctx) => {
    const messages = (await deps.readOutbox()).map((m) => ({ to: displayPhone(m.to), text: m.text, sentAt: m.sentAt.toISOString() }));
    renderPage(ctx, 'pages/devSms', { title: (ctx.state.page as PageGlobals).t('devSms.title'), messages });
  });
  return router;
};
