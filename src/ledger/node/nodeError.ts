/**
 * The ledger node's one refusal type: the HTTP status and stable code the protocol names
 * (docs/ledger-protocol.md), a plain-English reason, and any extra fields of the answer. Thrown by the
 * node and by its threshold store alike; the server turns it into the JSON answer.
 */
export class NodeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
