import { sql, type Kysely, type RawBuilder } from 'kysely';

/** One node of a plan as `EXPLAIN (FORMAT JSON)` gives it. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/**
 * Every node of the plan PostgreSQL (or PGlite) makes for `query` now, depth first: what the query-plan
 * specs check (not executed: EXPLAIN without ANALYZE, so an INSERT inserts nothing).
 */
export const planNodes = async (db: Kysely<any>, query: RawBuilder<unknown>): Promise<PlanNode[]> => {
  const { rows } = await sql<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>`EXPLAIN (FORMAT JSON) ${query}`.execute(db);
  const walk = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(walk)];
  return walk(rows[0]!['QUERY PLAN'][0].Plan);
};

/** The tables the plan for `query` reads with a sequential scan. */
export const seqScannedTables = async (db: Kysely<any>, query: RawBuilder<unknown>): Promise<string[]> =>
  (await planNodes(db, query)).filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'] ?? '');
