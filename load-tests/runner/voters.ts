import { readFileSync } from 'node:fs';

/**
 * The voters file written by `npm run load:provision` (JSON lines): a header line, then one voter per
 * line with the `Cookie` header value of a signed-in session and that session's CSRF token.
 *
 *   {"kind":"civic-vote-voters","version":1,"baseUrl":"http://127.0.0.1:3000","pollId":"…","questionId":"q1","optionIds":[…],"maxChoices":5,"count":250000}
 *   {"cookie":"sid=…; sid.sig=…","csrf":"…"}
 */
export interface VotersHeader {
  kind: 'civic-vote-voters';
  version: 1;
  baseUrl?: string;
  pollId?: string;
  questionId?: string;
  optionIds?: string[];
  maxChoices?: number;
  count: number;
}

export interface Voter {
  cookie: string;
  csrf: string;
}

export const readVotersFile = (path: string): { header: VotersHeader; voters: Voter[] } => {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const header = JSON.parse(lines[0] ?? '{}') as VotersHeader;
  if (header.kind !== 'civic-vote-voters' || header.version !== 1) throw new Error(`${path} is not a voters file (run npm run load:provision)`);
  const voters = lines.slice(1).map((line, i) => {
    const v = JSON.parse(line) as Partial<Voter>;
    if (typeof v.cookie !== 'string' || typeof v.csrf !== 'string') throw new Error(`${path}: line ${i + 2} is not a voter`);
    return { cookie: v.cookie, csrf: v.csrf };
  });
  if (voters.length !== header.count) throw new Error(`${path}: header says ${header.count} voters, file has ${voters.length}`);
  return { header, voters };
};
