/** Exit codes of the ledger node process that its supervisor (localCluster.ts) explains. */

/** The node's port is held by another process: it cannot listen. */
export const PORT_IN_USE_EXIT_CODE = 3;
