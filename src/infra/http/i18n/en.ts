import type { ko } from './ko.ts';

/** English. Typed against the Korean keys so that no key can be missing. */
export const en: Record<keyof typeof ko, string> = {
  'site.name': 'Civic Vote',
  'site.tagline': 'Anyone proposes, everyone decides, and you can verify it yourself',
  'nav.home': 'Hot issues',
  'nav.results': 'Policy results',
  'nav.my': 'My page',
  'nav.admin': 'Admin',
  'nav.verify': 'Verify',
  'nav.skip': 'Skip to main content',
  'nav.language': '한국어',
  'nav.largeText': 'Large text',
  'nav.normalText': 'Normal text',
  'home.title': 'Hot issues',
  'home.stats': '{polls} polls · {ballots} ballots',
  'home.empty': 'No polls yet.',
  'error.title': 'Error',
  'error.notFound': 'Page not found.',
  'error.internal': 'Please try again shortly. If the problem persists, tell the operators.',
  'error.back': 'Back to home',
};
