/**
 * The domain's countedBallots rule (one ballot per voter tag: with re-voting the last by time, else the
 * first) over a stream of a poll's ballots read from a node's log, keeping log positions in typed arrays
 * instead of the ballots: a {@link VoterTable} while the ballots go by (24 bytes a slot), then one
 * ascending Uint32Array of the counted ballots' positions (4 bytes a voter).
 */
import { castInstant, countsInstead } from '../../domain/tally.ts';
import type { PollDefinition } from '../../domain/pollDefinition.ts';
import { utf8 } from '../bytes.ts';
import type { Sha256 } from '../hash.ts';
import { VoterTable } from './compactIndex.ts';

/** What the chooser reads back of a ballot it chose before (a re-vote, or a key that collides). */
export type BallotAt = (position: number) => { voterTag: string; castAt: string };

export class CountedPositions {
  private readonly table = new VoterTable();

  constructor(
    private readonly h: Sha256,
    private readonly definition: Pick<PollDefinition, 'settings'>,
    private readonly ballotAt: BallotAt,
  ) {}

  /** A ballot at `position`, offered in log order. Throws the domain's TallyError for a castAt that is not a date. */
  offer(position: number, voterTag: string, castAt: string): void {
    const at = castInstant({ voterTag, castAt });
    const key = VoterTable.key(this.h(utf8(voterTag)));
    let chosenAt = 0;
    const slot = this.table.find(key, (p) => {
      const chosen = this.ballotAt(p);
      if (chosen.voterTag !== voterTag) return false;
      chosenAt = castInstant(chosen);
      return true;
    });
    if (slot < 0) this.table.insert(key, position, 0);
    else if (countsInstead(this.definition, chosenAt, at)) this.table.update(slot, position, 0);
  }

  /** The counted ballots' positions, ascending (log order). */
  positions(): Uint32Array {
    return this.table.positionsAscending();
  }
}
