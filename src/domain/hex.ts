/**
 * Whether `text` is exactly `length` lower-case hex digits. A character loop, not a regex: it runs for
 * every ballot's salt on the app and on every ledger node, and for every sealed ballot's fields there.
 * In the domain so the ballot decider can use it (the domain imports nothing outside itself);
 * src/ledger/bytes.ts re-exports it.
 */
export function isLowerHex(text: string, length: number): boolean {
  if (text.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
