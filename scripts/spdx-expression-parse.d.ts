// spdx-expression-parse 3 ships no types (its @types package describes v4's API).
declare module 'spdx-expression-parse' {
  const parse: (expression: string) => unknown;
  export default parse;
}
