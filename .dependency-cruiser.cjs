/**
 * The import graph's rules, checked by src/architecture.spec.ts in `npm test` (so in CI).
 * Type-only imports count: an arrow is an arrow whether or not it survives compilation.
 * Folders: docs/ARCHITECTURE.md, "Shape".
 */
/** The composition roots: the one place per process where the parts are put together. */
const COMPOSITION = '^(src/main[.]ts|src/infra/compositionRoot[.]ts|src/cli/|src/ledger/node/main[.]ts|verify-portal/main[.]ts|verify-portal/cli/)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A module never reaches itself through its imports.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      comment:
        'src/domain imports nothing outside itself, except csv-parse: a pure, synchronous parser (no I/O) that reads Pabulib files in the domain and in the portal\'s browser bundle alike (docs/DEPENDENCIES.md).',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { pathNot: ['^src/domain/', '(^|/)csv-parse/'] },
    },
    {
      name: 'app-through-ports',
      comment: 'src/app (use cases, ports, projections) never imports an adapter, a CLI or the portal: adapters come in through its ports.',
      severity: 'error',
      from: { path: '^src/app/' },
      to: { path: ['^src/infra/', '^src/cli/', '^src/main[.]ts$', '^verify-portal/'] },
    },
    {
      name: 'routes-only-from-http-and-composition',
      comment: 'HTTP routes are imported by the HTTP layer and the composition roots only: services, the app and other adapters never depend on a route.',
      severity: 'error',
      from: { pathNot: ['^src/infra/http/', COMPOSITION] },
      to: { path: '^src/infra/http/routes/' },
    },
    {
      name: 'portal-shares-only-ledger-and-domain',
      comment: 'The verification portal shares code with the app only through src/ledger, src/shared and the pure domain (the tally and its types); never the app, infra or CLIs.',
      severity: 'error',
      from: { path: '^verify-portal/' },
      to: { path: '^src/', pathNot: ['^src/ledger/', '^src/shared/', '^src/domain/'] },
    },
    {
      name: 'shared-code-stays-below-its-users',
      comment: 'src/ledger and src/shared are shared with the portal, the nodes and the CLIs: they never import the app, adapters, CLIs or the portal.',
      severity: 'error',
      from: { path: ['^src/ledger/', '^src/shared/'] },
      to: { path: ['^src/app/', '^src/infra/', '^src/cli/', '^src/main[.]ts$', '^verify-portal/'] },
    },
    {
      name: 'app-never-imports-portal',
      comment: 'Nothing in src imports the portal, except the app process\'s composition root, which starts it beside the app for npm start.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/main[.]ts$' },
      to: { path: '^verify-portal/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['[.]spec[.]ts$', '/testdata/', 'src/domain/testing[.]ts$', 'src/domain/fixtures[.]ts$'] },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
