import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import { parseLang, translator } from '../i18n/index.ts';

const publicDir = fileURLToPath(new URL('../../../../public/', import.meta.url));
const favicon = readFileSync(`${publicDir}favicon.ico`);

/**
 * The site as an app on the phone: the web app manifest (name, icons, theme colour; Korean, or English
 * with ?lang=en) and /favicon.ico, which browsers ask for at the root whatever the page links. No service
 * worker and so no offline pages: a ballot is only ever cast online, against the live server.
 */
export const siteAppRoutes = (): Router => {
  const router = new Router();
  router.get('/favicon.ico', (ctx) => {
    ctx.type = 'image/x-icon';
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = favicon;
  });
  router.get('/manifest.webmanifest', (ctx) => {
    const lang = parseLang(ctx.query.lang) ?? 'ko';
    const t = translator(lang);
    ctx.type = 'application/manifest+json';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = JSON.stringify({
      name: t('site.name'),
      short_name: t('site.name'),
      description: t('site.tagline'),
      lang,
      id: '/',
      start_url: lang === 'en' ? '/?lang=en' : '/',
      scope: '/',
      display: 'standalone',
      background_color: '#ffffff',
      theme_color: '#0b57a4',
      icons: [
        { src: '/static/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
        { src: '/static/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
        { src: '/static/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        { src: '/static/icons/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
      ],
    });
  });
  return router;
};
