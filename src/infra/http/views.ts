import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';
import { translator, type Lang } from './i18n/index.ts';

const viewsDir = fileURLToPath(new URL('../../../views/', import.meta.url));

/** What every page gets besides its own view model. */
export interface PageGlobals {
  lang: Lang;
  t: ReturnType<typeof translator>;
  largeText: boolean;
  path: string;
  /** This session's CSRF token, made (with the session) on first call: call it only where a form needs it. */
  csrf: () => string;
  /** The token if the session already has one; never makes a session (for the layout of read-only pages). */
  csrfIfAny: () => string;
  user: { id: string; displayName?: string; roles: string[] } | null;
  portalUrl: string;
  isHtmx: boolean;
  /** A reflection of a poll the citizen voted in changed since this browser last opened /my (set by siteMy's notificationMark). */
  unreadNotifications?: boolean;
  /** This page's URL with one query parameter set (language and text-size links). */
  withQuery: (key: string, value: string) => string;
}

export const createViews = (options: { cache: boolean }) => {
  const eta = new Eta({ views: viewsDir, cache: options.cache, autoEscape: true, autoTrim: false });
  return {
    /** Renders a template with the page globals under `it`, alongside the page's view model. */
    render(template: string, globals: PageGlobals, model: object = {}): string {
      return eta.render(template, { ...globals, ...model });
    },
    /**
     * Renders a partial from its model alone, without the page globals (user, session, CSRF token),
     * so the HTML may be shared among visitors: nobody's session data can end up in it.
     */
    renderFragment(template: string, model: object): string {
      return eta.render(template, model);
    },
  };
};

export type Views = ReturnType<typeof createViews>;

/** JSON API paths: they render no page, and answer errors as JSON. */
export const isApiPath = (path: string): boolean => path.startsWith('/api/');

/** A shareable partial (see Views.renderFragment), for routes that cache fragments per poll and language. */
export const renderFragment = (ctx: Context, template: string, model: object): string => (ctx.state.views as Views).renderFragment(template, model);

/**
 * Renders a full page, or only its partial when htmx asks (HX-Request) and a partial is given; the
 * response varies on that header so caches keep the two apart.
 */
export const renderPage = (ctx: Context, page: string, model: object = {}, options: { partial?: string; status?: number } = {}) => {
  const globals = ctx.state.page as PageGlobals;
  const views = ctx.state.views as Views;
  ctx.vary('HX-Request');
  ctx.type = 'html';
  if (options.status) ctx.status = options.status;
  // Encoded once here: a string body is measured by koa (Content-Length), measured again and then encoded
  // by node's http on the way out, three passes over a page of mostly Hangul (~1% of the app's CPU at
  // 300 voters/s, every voter loading a poll page). A Buffer's length is its Content-Length.
  ctx.body = Buffer.from(views.render(globals.isHtmx && options.partial ? options.partial : page, globals, model));
};
