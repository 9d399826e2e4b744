/**
 * One ledger node: its log, its signing rules, catch-up from peers and tallies. HTTP lives in server.ts;
 * this class answers with values or throws NodeError carrying the status and code the protocol names
 * (docs/ledger-protocol.md).
 */
import { Mutex } from 'async-mutex';
import { tallyCounted, TallyError, type TallyBallot } from '../../domain/tally.ts';
import { bytesEqual, toBase64, utf8 } from '../bytes.ts';
import { checkpointHash, GENESIS_PREV, parseCheckpoint, type Checkpoint } from '../checkpoint.ts';
import { HASH_SIZE, MerkleTree, hashLeaf, type HashLevelStore } from '../merkle.ts';
import { join } from 'node:path';
import { buildReceipt, type Receipt } from '../receipt.ts';
import { nodeEd25519, nodeSha256 } from '../nodeCrypto.ts';
import {
  distinctSigners,
  generateSignerKey,
  openNote,
  parseSignerKey,
  parseVerifierKeys,
  signatureLine,
  type NoteSigner,
  type NoteVerifier,
} from '../note.ts';
import { signTallyNote, tallyHash } from '../tallyNote.ts';
import { MAX_SIGNED_PAGE, QUORUM, type SignedPage } from '../protocol.ts';
import { EntryChecker, isRefusal, parseStoredEntryText, type SealedContext } from './entryChecker.ts';
import { CountedPositions } from './countedPositions.ts';
import { NodeStore, READ_SPAN_BYTES, type Log } from './store.ts';
import { DiskHashIndex, IndexWriteError, PositionLists, RecordFile, type PositionList } from './recordFile.ts';
import { evolve as evolvePoll, initialState as initialPoll, pollStatusAt, type PollEvent, type PollState } from '../../domain/poll.ts';
import type { BallotSelections, PollDefinition } from '../../domain/pollDefinition.ts';
import type { LedgerEntry } from '../entry.ts';
import { batchCount, itemsOf, OPEN_BATCH, OPENING_EVENT, SealedNotOpened, sealedRefOf, type CountedSealed, type OpeningData, type SealedBallotRef } from '../sealedOpening.ts';
import type { ShareBatch } from '../threshold/decryption.ts';
import type { Dealing, PublicKeySet } from '../threshold/vss.ts';
import { NodeError } from './nodeError.ts';
import { ThresholdStore } from './thresholdStore.ts';

const h = nodeSha256;
const ed = nodeEd25519;

/** The most entries GET /v1/entries and GET /v1/polls/:pollId/entries return at once. */
export const MAX_ENTRIES_PAGE = 1000;
/**
 * The most entry text (bytes) one such page carries besides MAX_ENTRIES_PAGE. A page is held whole while
 * it is answered (the texts, the JSON answer, its bytes for the socket: about four times its text), and a
 * sealed poll's opening entries (75-190 KB each: a batch's openings and three nodes' shares) follow one
 * another in the log: 1,000 of them would be up to 190 MB of text. An entry larger than this is a page
 * of its own. 1,000 ballot entries (~1 KB each) fit: ordinary pages are unchanged.
 */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;

/**
 * Notes of signed.log and of finals.log (the newest) a node checks before it serves; older ones are
 * checked by a background sweep (checkStoreAgainstState), SWEEP_SLICE at a time.
 */
export const START_CHECK_NOTES = 256;
const SWEEP_SLICE = 16;


export interface LedgerNodeOptions {
  id: number;
  dataDir: string;
  origin: string;
  /** Base URLs of the other nodes. */
  peers: string[];
  /** Verifier keys of the other nodes, if known in advance; otherwise learnt from their /v1/info. */
  keys?: string[];
  log: Log;
  fetch?: typeof fetch;
  /** Timeout of one request to a peer. */
  peerTimeoutMs?: number;
  /** Most entry text in one page of entries; default MAX_PAGE_BYTES (tests use a small one). */
  pageBytes?: number;
  /** Newest notes of signed.log and of finals.log checked at start; default START_CHECK_NOTES (tests use a small one). */
  startCheckNotes?: number;
  /** Most notes in one page of GET /v1/signed; default MAX_SIGNED_PAGE (tests use a small one). */
  signedPage?: number;
  /** Trackers kept in memory before they are written as a sorted run; default 65,536 (tests use a small one). */
  trackersInMemory?: number;
  /** Polls whose position files keep a descriptor and buffers; default 64 (tests use a small one). */
  openPollFiles?: number;
}

export interface TallyRecord {
  pollId: string;
  size: number;
  tally: unknown;
  note: string;
}

export class LedgerNode {
  readonly name: string;
  readonly verifierKey: string;
  private readonly signer: NoteSigner;
  private readonly store: NodeStore;
  /**
   * Keeps no level below subtrees of 16 leaves; smaller ones are hashed again from entries.log. The kept
   * levels (~4 bytes an entry) are in files under the store's index directory, one per level.
   */
  private tree: MerkleTree;
  /** The tree's level files, by level; emptied when the tree is made again. */
  private readonly levelFiles: RecordFile[] = [];
  private readonly threshold: ThresholdStore;
  private readonly sealedContext: SealedContext;
  private checker: EntryChecker;
  /**
   * The log positions of the counted sealed ballots of the last poll asked about (4 bytes a ballot), so
   * opening batch by batch reads the whole poll once; each batch's ballots are read back by position.
   */
  private sealedCache: { key: string; counted: CountedSealed } | null = null;
  /**
   * Ballot tracker -> entry index, by the tracker's 32-bit hash only (a match is checked on disk): the
   * last 65,536 ballots' in memory (about 1 MiB at most), older ones in sorted runs in index/trackers.
   */
  private trackers: DiskHashIndex;
  /** Entry indexes of each poll, ascending: 4 bytes an entry in index/polls/<n>.positions. */
  private pollIndexes: PositionLists;
  /**
   * The tree size of each line of finals.log (NaN for an unreadable one), 8 bytes a final checkpoint in
   * a file under the index directory (made afresh at start from finals.log); the notes stay on disk.
   */
  private readonly finalSizes: RecordFile;
  private readonly finalSize = (i: number): number => this.finalSizes.getFloat64(i);
  /** Whether finalSizes is strictly ascending (the usual case: each final extends the last), so a look-up can halve. */
  private finalsAscending = true;
  private readonly tallies = new Map<string, TallyRecord>();
  /** The tree root at the size of each poll's last tally signed since start (the log it was read from). */
  private readonly tallyRoots = new Map<string, string>();
  /** One mutation at a time: proposals, finalisations, catch-up and tallies all change the log or state. */
  private readonly mutex = new Mutex();
  private readonly fetch: typeof fetch;
  private catchingUp: Promise<void> | null = null;
  /** A catch-up was asked for while one ran: peers may have finalised more since it started. */
  private catchUpAgain = false;
  private refreshing: Promise<void> | null = null;
  /** Set when the stored log does not match what this node signed: it then signs nothing. */
  private corrupt: string | null = null;
  /** The background check of the notes older than the start-up check's (see checkStoreAgainstState). */
  private storeSweep: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: LedgerNodeOptions) {
    this.fetch = options.fetch ?? fetch;
    this.store = new NodeStore(options.dataDir, options.log);
    this.finalSizes = new RecordFile(join(this.store.indexDir, 'final-sizes'), 8);
    this.trackers = this.newTrackers();
    this.pollIndexes = this.newPollIndexes();
    this.tree = this.newTree();
    this.name = `ledger-node-${options.id}`;
    const keys = generateSignerKey(h, ed, this.name, this.store.seed);
    this.signer = parseSignerKey(h, ed, keys.signerKey);
    this.verifierKey = keys.verifierKey;
    this.threshold = new ThresholdStore(options.dataDir, options.id, this.store.seed, options.log);
    this.sealedContext = {
      keySet: (keyId) => this.threshold.keySet(keyId),
      sealedBallots: (pollId, definition, size) => this.sealedBallots(pollId, definition, size),
    };
    this.checker = this.newChecker();
    this.rebuild();
    for (let i = 0; i < this.store.finals.count; i++) {
      const note = this.store.finals.get(i);
      let size = Number.NaN;
      try {
        if (note !== undefined) size = parseCheckpoint(openNote(ed, note, []).text).size;
      } catch {
        // logged below
      }
      if (Number.isNaN(size)) options.log('skipping an unreadable final note');
      this.pushFinalSize(size);
    }
    for (const record of this.store.tallies as TallyRecord[]) this.tallies.set(record.pollId, record);
    this.checkStoreAgainstState();
  }

  get size(): number {
    return this.tree.size;
  }

  /** Whether the node refuses to sign because its store disagrees with what it signed; and why. */
  get storeProblem(): string | null {
    return this.corrupt;
  }

  /** Settles when the background check of older notes is done (or stopped by close). */
  whenStoreChecked(): Promise<void> {
    return this.storeSweep;
  }

  /** The entry checker over this node's log: it reads a voter's last ballot back from entries.log. */
  private newChecker(): EntryChecker {
    return new EntryChecker(h, this.sealedContext, { entry: (position) => this.store.entry(position) });
  }

  /** The tree over this node's log; leaves it does not keep are the durable entries' hashes, read back. */
  private newTree(): MerkleTree {
    return new MerkleTree(h, {
      leaves: (from, to) => this.store.entryRange(from, to).map((text) => hashLeaf(h, utf8(text))),
      levelStore: (j) => this.levelFile(j),
    });
  }

  /** Level j's file, empty (a tree made again refills it). */
  private levelFile(j: number): HashLevelStore {
    const file = (this.levelFiles[j] ??= new RecordFile(join(this.store.indexDir, `merkle-${j}.hashes`), HASH_SIZE));
    file.truncate(0);
    return {
      get count() {
        return file.length;
      },
      push: (hash) => file.push(hash),
      get: (i) => file.get(i),
      truncate: (n) => file.truncate(n),
    };
  }

  private newTrackers(): DiskHashIndex {
    return new DiskHashIndex(join(this.store.indexDir, 'trackers'), this.options.trackersInMemory);
  }

  private newPollIndexes(): PositionLists {
    return new PositionLists(join(this.store.indexDir, 'polls'), this.options.openPollFiles);
  }

  private rebuild(): void {
    this.tree = this.newTree();
    this.checker = this.newChecker();
    this.trackers.close();
    this.trackers = this.newTrackers();
    this.pollIndexes.close();
    this.pollIndexes = this.newPollIndexes();
    // Committed every REBUILD_CHUNK entries, so the transaction's overlay stays small however long the log.
    const REBUILD_CHUNK = 1024;
    let txn = this.checker.begin();
    this.store.forEachEntry((text, i) => {
      this.tree.append(hashLeaf(h, utf8(text)));
      const entry = txn.replay(text);
      if (entry) this.index(entry, i);
      else this.options.log('unreadable entry in the log', { index: i });
      if ((i + 1) % REBUILD_CHUNK === 0) {
        txn.commit();
        txn = this.checker.begin();
      }
    });
    txn.commit();
  }

  /** Indexes an entry the node already parsed (no second JSON.parse of its text). */
  private index(entry: LedgerEntry, i: number): void {
    const e = entry as { pollId?: unknown; kind?: unknown; data?: { tracker?: unknown } };
    if (typeof e.pollId === 'string') this.pollIndexes.push(e.pollId, i);
    if (e.kind === 'ballot' && typeof e.data?.tracker === 'string') this.trackers.add(e.data.tracker, i);
  }

  /** The newest ballot entry with this tracker (read from disk to rule out hash collisions), parsed. */
  private ballotByTracker(tracker: string, below: number): { index: number; entry: LedgerEntry } | null {
    for (const i of this.trackers.candidates(tracker)) {
      if (i >= below) continue;
      const entry = JSON.parse(this.store.entry(i)) as LedgerEntry & { data?: { tracker?: unknown } };
      if (entry.kind === 'ballot' && entry.data?.tracker === tracker) return { index: i, entry };
    }
    return null;
  }

  /**
   * The texts at the first `count` of some ascending log positions (`positionAt(k)`), in order, read from
   * disk a span at a time: one positional read covers up to 4,096 consecutive log positions and 1 MiB
   * (entries in between are read and dropped), so memory is bounded by the span, not the poll.
   */
  private *entriesAt(positionAt: (k: number) => number, count: number): Generator<{ text: string; index: number }> {
    const SPAN = 4096;
    for (let k = 0; k < count; ) {
      const first = positionAt(k);
      const end = this.store.entrySpanEnd(first, first + SPAN, READ_SPAN_BYTES);
      let last = k;
      while (last + 1 < count && positionAt(last + 1) < end) last++;
      const texts = this.store.entryRange(first, positionAt(last) + 1);
      for (; k <= last; k++) yield { text: texts[positionAt(k) - first]!, index: positionAt(k) };
    }
  }

  /** A poll's first `count` entries, in log order (see entriesAt). */
  private pollEntriesBelow(list: PositionList | undefined, count: number): Generator<{ text: string; index: number }> {
    return this.entriesAt((k) => list!.get(k), count);
  }

  /** The final checkpoint note stored for a tree size, read from finals.log. */
  private finalAt(size: number): string | null {
    const n = this.finalSizes.length;
    if (this.finalsAscending) {
      const i = this.finalSizes.countBelow(size, this.finalSize);
      return i < n && this.finalSize(i) === size ? (this.store.finals.get(i) ?? null) : null;
    }
    for (let i = n - 1; i >= 0; i--) {
      if (this.finalSize(i) === size) return this.store.finals.get(i) ?? null;
    }
    return null;
  }

  private pushFinalSize(size: number): void {
    const n = this.finalSizes.length;
    if (Number.isNaN(size) || (n > 0 && !(size > this.finalSize(n - 1)))) this.finalsAscending = false;
    this.finalSizes.pushFloat64(size);
  }

  /**
   * The start-up check: the stored entries must still hash to the roots this node signed and finalised,
   * and every signature it saved must verify (its own on each body in signed.log, and on each final note
   * in finals.log and state.json every signature by a key it knows, with a quorum of them when it knows
   * enough keys). A node that finds a problem signs nothing, serves no checkpoint, proof or entry, and
   * says why in /v1/info (storeProblem).
   *
   * Before the node serves: state.json, the last final checkpoint and the newest START_CHECK_NOTES notes
   * of signed.log and finals.log, which are what its next signatures build on. The older notes (one of
   * each a round, year after year: at 4,000 rounds this check was 94% of a 3.5 s start) are checked after,
   * by a sweep a slice at a time that leaves the node at least half of its time; a problem it finds stops
   * the node's signing from then on, as one found at start does.
   */
  private checkStoreAgainstState(): void {
    const newest = this.options.startCheckNotes ?? START_CHECK_NOTES;
    const signedFrom = Math.max(0, this.store.signed.count - newest);
    const finalsFrom = Math.max(0, this.store.finals.count - newest);
    this.report(() => [...this.rootProblems(), ...this.stateProblems(), ...this.signedProblems(signedFrom, this.store.signed.count), ...this.finalProblems(finalsFrom, this.store.finals.count)]);
    if (signedFrom > 0 || finalsFrom > 0) this.storeSweep = this.sweepOlderNotes(signedFrom, finalsFrom);
  }

  private report(check: () => string[]): void {
    let problems: string[];
    try {
      problems = check();
    } catch (e) {
      problems = [`the saved state is unreadable: ${(e as Error).message}`];
    }
    if (problems.length > 0 && !this.corrupt) {
      // The first few say enough; a whole damaged file would make the status unreadable.
      this.corrupt = problems.length > 5 ? `${problems.slice(0, 5).join('; ')}; and ${problems.length - 5} more` : problems.join('; ');
      this.options.log('STORE MISMATCH: refusing to sign', { problem: this.corrupt });
    }
  }

  /** Notes [0, signedEnd) of signed.log and [0, finalsEnd) of finals.log, SWEEP_SLICE at a time. */
  private async sweepOlderNotes(signedEnd: number, finalsEnd: number): Promise<void> {
    const slices: Array<[number, number, (from: number, to: number) => string[]]> = [];
    for (let i = 0; i < signedEnd; i += SWEEP_SLICE) slices.push([i, Math.min(signedEnd, i + SWEEP_SLICE), (a, b) => this.signedProblems(a, b)]);
    for (let i = 0; i < finalsEnd; i += SWEEP_SLICE) slices.push([i, Math.min(finalsEnd, i + SWEEP_SLICE), (a, b) => this.finalProblems(a, b)]);
    const started = performance.now();
    for (const [from, to, check] of slices) {
      // As long a pause as the slice took: the sweep takes at most half of the node's time.
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.closed || this.corrupt) return;
      this.report(() => check(from, to));
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(performance.now() - t0)));
    }
    if (!this.closed) this.options.log('store check of older notes done', { signed: signedEnd, finals: finalsEnd, ms: Math.round(performance.now() - started) });
  }

  /** state.json's last signed body against the size and root saved with it, and its last final note's signatures. */
  private stateProblems(): string[] {
    const problems = this.store.state.lastFinalNote ? this.finalNoteProblems('state.json (last final checkpoint)', this.store.state.lastFinalNote) : [];
    const st = this.store.state;
    if (st.lastSignedBody) {
      const cp = parseCheckpoint(st.lastSignedBody);
      if (cp.size !== st.size || toBase64(cp.rootHash) !== st.root) problems.push('state.json: the last signed body does not match the size and root saved with it');
    }
    return problems;
  }

  /** Lines [from, to) of signed.log whose signature by this node does not verify (an unreadable line is logged and passed over). */
  private signedProblems(from: number, to: number): string[] {
    const problems: string[] = [];
    const own = parseVerifierKeys(h, [this.verifierKey]);
    for (let k = from; k < to; k++) {
      const note = this.store.signed.get(k);
      if (note === undefined) continue;
      try {
        const opened = openNote(ed, note, own);
        if (opened.valid.length !== 1 || opened.invalid.length + opened.unknown.length > 0) problems.push(`signed.log line ${k + 1}: this node's signature does not verify`);
      } catch (e) {
        problems.push(`signed.log line ${k + 1}: unreadable (${(e as Error).message})`);
      }
    }
    return problems;
  }

  /** Lines [from, to) of finals.log whose signatures do not verify or whose root is not the log's at their size. */
  private finalProblems(from: number, to: number): string[] {
    const problems: string[] = [];
    for (let i = from; i < to; i++) {
      const note = this.store.finals.get(i);
      if (note === undefined) continue;
      problems.push(...this.finalNoteProblems(`finals.log line ${i + 1}`, note));
      const size = this.finalSize(i);
      if (Number.isNaN(size) || size > this.tree.size || bytesEqual(this.tree.root(size), parseCheckpoint(openNote(ed, note, []).text).rootHash)) continue;
      problems.push(`the root at size ${size} differs from the final checkpoint in finals.log`);
    }
    return problems;
  }

  /** A final note's signatures: none that fails, none by an unknown key when all are known, a quorum. */
  private finalNoteProblems(where: string, note: string): string[] {
    const verifiers = this.verifiers();
    const knownKeys = new Set(verifiers.map((v) => v.name)).size;
    try {
      const opened = openNote(ed, note, verifiers);
      if (opened.invalid.length > 0) return [`${where}: ${opened.invalid.length} signature(s) do not verify`];
      // With every node's key known, a signature by none of them is a damaged one.
      if (knownKeys >= QUORUM + 1 && opened.unknown.length > 0) return [`${where}: a signature matches no node key`];
      if (knownKeys >= QUORUM && distinctSigners(opened).length < QUORUM) return [`${where}: fewer than ${QUORUM} valid signatures`];
      return [];
    } catch (e) {
      return [`${where}: unreadable (${(e as Error).message})`];
    }
  }

  /** Where the stored entries do not hash to what was signed or made final. */
  private rootProblems(): string[] {
    const st = this.store.state;
    const problems: string[] = [];
    if (st.size > this.tree.size) problems.push(`the log holds ${this.tree.size} entries but the node signed a tree of ${st.size}`);
    else if (st.size > 0 && toBase64(this.tree.root(st.size)) !== st.root) problems.push(`the root at size ${st.size} differs from the one signed`);
    const final = this.lastFinal();
    if (final && final.size <= this.tree.size && !bytesEqual(this.tree.root(final.size), final.rootHash)) {
      problems.push(`the root at size ${final.size} differs from the final checkpoint`);
    } else if (final && final.size > this.tree.size) problems.push(`the log is shorter than the final checkpoint (${final.size})`);
    return problems;
  }

  /** Public reads a node with a store problem refuses: it cannot stand behind what it would serve. */
  private standBehind(): void {
    if (this.corrupt) throw new NodeError(503, 'store-problem', `this node's store has a problem, so it serves no checkpoints, proofs or entries: ${this.corrupt}. Ask another node.`);
  }

  private lastFinal(): Checkpoint | null {
    const note = this.store.state.lastFinalNote;
    return note ? parseCheckpoint(openNote(ed, note, []).text) : null;
  }

  private verifiers(): NoteVerifier[] {
    return parseVerifierKeys(h, [this.verifierKey, ...(this.options.keys ?? []), ...this.store.peerKeys]);
  }

  private async peerGet(peer: string, path: string): Promise<Response> {
    return this.fetch(new URL(path, peer), { signal: AbortSignal.timeout(this.options.peerTimeoutMs ?? 5000) });
  }

  /**
   * Learns the peers' verifier keys from their /v1/info (trust on first use; --keys pins them instead).
   * One refresh at a time, and what it finds is merged with what is stored at the moment it saves, so
   * concurrent callers never overwrite each other's findings.
   */
  refreshPeerKeys(): Promise<void> {
    this.refreshing ??= this.refreshPeerKeysOnce().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refreshPeerKeysOnce(): Promise<void> {
    if ((this.options.keys?.length ?? 0) >= this.options.peers.length) return;
    if (this.store.peerKeys.length >= this.options.peers.length) return;
    const found = await Promise.all(
      this.options.peers.map(async (peer) => {
        try {
          const res = await this.peerGet(peer, '/v1/info');
          const info = (await res.json()) as { verifierKey?: unknown };
          return typeof info.verifierKey === 'string' ? info.verifierKey : null;
        } catch {
          return null;
        }
      }),
    );
    const known = new Set(this.store.peerKeys);
    const before = known.size;
    for (const key of found) {
      if (key && key !== this.verifierKey && parseVerifierKeys(h, [key]).length === 1) known.add(key);
    }
    if (known.size > before) {
      this.store.savePeerKeys([...known]);
      this.options.log('learnt peer keys', { known: known.size });
    }
  }

  /** Distinct known keys with valid signatures on a note, and its checkpoint. Throws NodeError. */
  private async openFinal(note: string): Promise<{ cp: Checkpoint; signers: number }> {
    const count = (): { cp: Checkpoint; signers: number } => {
      try {
        const opened = openNote(ed, note, this.verifiers());
        return { cp: parseCheckpoint(opened.text), signers: distinctSigners(opened).length };
      } catch (e) {
        throw new NodeError(422, 'bad-note', `unreadable checkpoint note: ${(e as Error).message}`);
      }
    };
    let result = count();
    // Twice: the first call may join a refresh that started before the peers were listening.
    for (let attempt = 0; attempt < 2 && result.signers < QUORUM; attempt++) {
      await this.refreshPeerKeys();
      result = count();
    }
    if (result.cp.origin !== this.options.origin) throw new NodeError(422, 'bad-origin', `checkpoint is for log ${result.cp.origin}`);
    return result;
  }

  // ---- public read API ----------------------------------------------------------------------------

  info(): { nodeId: number; name: string; origin: string; verifierKey: string; size: number; finalSize: number; peers: string[]; storeProblem: string | null } {
    return {
      nodeId: this.options.id,
      name: this.name,
      origin: this.options.origin,
      verifierKey: this.verifierKey,
      size: this.tree.size,
      finalSize: this.safeFinalSize(),
      peers: this.options.peers,
      storeProblem: this.corrupt,
    };
  }

  private safeFinalSize(): number {
    try {
      return this.lastFinal()?.size ?? 0;
    } catch {
      return 0;
    }
  }

  latestCheckpoint(): string | null {
    this.standBehind();
    return this.store.state.lastFinalNote;
  }

  checkpointAt(size: number): string | null {
    this.standBehind();
    return this.finalAt(size);
  }

  /**
   * A page of the bodies this node signed, in the order it signed them: from `start`, or the newest
   * page when `start` is absent (what a status check wants). At most MAX_SIGNED_PAGE notes, read from
   * signed.log for this answer: the node keeps only the last few in memory, and one answer never holds
   * the whole history (a node signs a body every round, year after year).
   */
  signedCheckpoints(start?: number): SignedPage {
    const count = this.store.signed.count;
    const page = this.options.signedPage ?? MAX_SIGNED_PAGE;
    const from = start === undefined ? Math.max(0, count - page) : Math.min(start, count);
    const to = Math.min(count, from + page);
    return { checkpoints: this.store.signed.range(from, to), start: from, next: to < count ? to : null, count };
  }

  /**
   * Entries [start, end), or the first of them: at most MAX_ENTRIES_PAGE and the page's bytes (at least
   * one entry). Clients page on from the last index they got.
   */
  entries(start: number, end: number): { index: number; entry: string }[] {
    this.standBehind();
    // The store's list, not the tree: a batch whose fsync is still under way is in the tree only.
    const from = Math.max(0, start);
    const to = Math.min(end, this.store.entryCount, from + MAX_ENTRIES_PAGE);
    if (from >= to) return [];
    const cut = this.store.entrySpanEnd(from, to, this.pageBytes);
    return this.store.entryRange(from, cut).map((entry, k) => ({ index: from + k, entry }));
  }

  private get pageBytes(): number {
    return this.options.pageBytes ?? MAX_PAGE_BYTES;
  }

  inclusionProof(index: number, size: number): string[] {
    this.standBehind();
    return this.tree.inclusionProof(index, size).map(toBase64);
  }

  consistencyProof(from: number, to: number): string[] {
    this.standBehind();
    return this.tree.consistencyProof(from, to).map(toBase64);
  }

  /** A receipt for a ballot against the latest final checkpoint, or null if unknown or not yet final. */
  receipt(tracker: string): Receipt | null {
    this.standBehind();
    const note = this.store.state.lastFinalNote;
    const final = this.lastFinal();
    if (!note || !final) return null;
    const found = this.ballotByTracker(tracker, this.store.entryCount);
    if (!found || found.index >= final.size) return null;
    const { index, entry } = found;
    return buildReceipt({
      origin: this.options.origin,
      entry,
      leafIndex: index,
      checkpoint: note,
      inclusionProof: this.tree.inclusionProof(index, final.size),
    });
  }

  /**
   * A page of a poll's entries in log order: those at log index `start` or later, up to MAX_ENTRIES_PAGE
   * and the page's bytes (at least one entry), and `next`, the `start` of the next page, when more remain
   * (null on the last page). Paged so that one answer does not grow with the poll (a 250,000-ballot
   * sealed poll is ~200 MB of entries, its opening entries ~30 MB).
   */
  pollEntries(pollId: string, start = 0): { entries: { index: number; entry: string }[]; next: number | null } {
    this.standBehind();
    const list = this.pollIndexes.get(pollId);
    const length = list?.length ?? 0;
    const from = list?.countBelow(start) ?? 0;
    const entries: { index: number; entry: string }[] = [];
    let bytes = 0;
    for (const { text, index } of this.entriesAt((k) => list!.get(from + k), Math.min(length, from + MAX_ENTRIES_PAGE) - from)) {
      bytes += Buffer.byteLength(text) + 1;
      if (entries.length > 0 && bytes > this.pageBytes) break;
      entries.push({ index, entry: text });
    }
    const to = from + entries.length;
    return { entries, next: to < length ? list!.get(to) : null };
  }

  tallyOf(pollId: string): TallyRecord | null {
    return this.tallies.get(pollId) ?? null;
  }

  // ---- coordinator API ----------------------------------------------------------------------------

  /**
   * Runs a change of the log or state alone (the mutex). An index file that could not be written leaves
   * the node's in-memory view and its index files perhaps half changed: it then signs and serves
   * nothing (storeProblem) until a restart makes them again from entries.log.
   */
  private exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.mutex.runExclusive(async () => {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof IndexWriteError && !this.corrupt) {
          this.corrupt = `an index file could not be written (${e.message}); restart the node to make its indexes again from entries.log`;
          this.options.log('INDEX WRITE FAILED: refusing to sign until restarted', { problem: this.corrupt });
        }
        throw e;
      }
    });
  }

  /** POST /v1/propose: checks, appends and signs; see docs/ledger-protocol.md. */
  propose(input: { start: unknown; entries: unknown; checkpoint: unknown }): Promise<{ signature: string }> {
    return this.exclusive(() => this.proposeLocked(input));
  }

  private async proposeLocked({ start, entries, checkpoint }: { start: unknown; entries: unknown; checkpoint: unknown }): Promise<{ signature: string }> {
    if (this.corrupt) throw new NodeError(422, 'store-mismatch', `this node's store does not match what it signed: ${this.corrupt}`);
    if (!Number.isSafeInteger(start) || (start as number) < 0 || !Array.isArray(entries) || !entries.every((e) => typeof e === 'string') || typeof checkpoint !== 'string') {
      throw new NodeError(400, 'bad-request', 'body must be { start, entries: string[], checkpoint }');
    }
    const texts = entries as string[];
    const from = start as number;
    const size = this.tree.size;
    if (from > size) {
      void this.catchUp();
      throw new NodeError(409, 'behind', `this node holds ${size} entries; the proposal starts at ${from}`, { size });
    }
    let cp: Checkpoint;
    try {
      cp = parseCheckpoint(checkpoint);
    } catch (e) {
      throw new NodeError(422, 'bad-checkpoint', (e as Error).message);
    }
    if (cp.origin !== this.options.origin) throw new NodeError(422, 'bad-origin', `checkpoint is for log ${cp.origin}, this node keeps ${this.options.origin}`);
    if (cp.size !== from + texts.length) throw new NodeError(422, 'bad-size', `checkpoint size ${cp.size} is not start + entries (${from + texts.length})`);
    // A proposal that repeats entries this node holds (a retried round) is compared with them on disk.
    const held = from < Math.min(size, cp.size) ? this.store.entryRange(from, Math.min(size, cp.size)) : [];
    for (let i = from; i < Math.min(size, cp.size); i++) {
      if (texts[i - from] !== held[i - from]) {
        throw new NodeError(422, 'conflict', `entry ${i} differs from the one this node holds`, { index: i });
      }
    }
    this.checkExtends(cp, checkpoint);

    const fresh = texts.slice(Math.max(0, size - from));
    const txn = this.checker.begin();
    const parsed: LedgerEntry[] = [];
    for (let k = 0; k < fresh.length; k++) {
      const checked = txn.checkEntry(fresh[k]!);
      if (isRefusal(checked)) throw new NodeError(422, checked.code, checked.reason, { index: size + k });
      parsed.push(checked);
    }
    const mark = this.tree.size;
    for (const text of fresh) this.tree.append(hashLeaf(h, utf8(text)));
    if (!bytesEqual(this.tree.root(cp.size), cp.rootHash)) {
      this.tree.truncate(mark);
      throw new NodeError(422, 'root-mismatch', `the root of the first ${cp.size} entries is not the proposed one`);
    }
    // The round's one fsync, off the event loop: the entries are durable before the signature leaves the
    // node. That is what keeps it from ever signing two trees that disagree: it only signs roots of
    // prefixes of its own durable, append-only log (the root check above), whatever its state file says.
    try {
      await this.store.appendEntriesDurably(fresh);
    } catch (e) {
      this.tree.truncate(mark);
      throw e;
    }
    txn.commit();
    parsed.forEach((entry, k) => this.index(entry, size + k));

    const signature = signatureLine(ed, checkpoint, this.signer);
    const st = this.store.state;
    if (st.lastSignedBody !== checkpoint) {
      // Written, not fsynced: after a crash the state may be a round old, which the start-up check and
      // the rules above tolerate (it is never ahead of the durable entries, which are written first).
      this.store.saveState({ ...st, size: cp.size, root: toBase64(cp.rootHash), lastSignedBody: checkpoint });
      this.store.appendSigned(`${checkpoint}\n${signature}`);
    }
    return { signature };
  }

  /** The signing rules: never smaller than signed or final, one root per size, prev names a known body. */
  private checkExtends(cp: Checkpoint, body: string): void {
    const st = this.store.state;
    const final = this.lastFinal();
    if (cp.size < st.size) throw new NodeError(422, 'smaller', `this node already signed a tree of ${st.size} entries`);
    if (final && cp.size < final.size) throw new NodeError(422, 'smaller', `the final tree already has ${final.size} entries`);
    if (st.lastSignedBody && cp.size === st.size && toBase64(cp.rootHash) !== st.root) {
      throw new NodeError(422, 'conflicting-root', `this node signed a different root at size ${cp.size}`);
    }
    if (final && cp.size === final.size && !bytesEqual(cp.rootHash, final.rootHash)) {
      throw new NodeError(422, 'conflicting-root', `the final root at size ${cp.size} is different`);
    }
    const finalBody = this.store.state.lastFinalNote ? openNote(ed, this.store.state.lastFinalNote, []).text : null;
    // Re-signing the final body itself is harmless: a node that caught up past a round still answers it.
    // So is re-signing the body it signed last (the same statement again): a round that fell short of a
    // quorum before the first final checkpoint is proposed again unchanged once nodes return, and
    // refusing it (its prev is not the hash of itself) left the log stuck for good.
    if (body === finalBody || body === st.lastSignedBody) return;
    // Before the first final checkpoint there is no agreed body to chain from: nodes that signed rounds
    // that fell short of a quorum (some at size 2, others earlier) could never agree on one prev again,
    // and the log stayed stuck for good (seen in CI: two nodes refused every round as bad-prev). The
    // checks above and the root check in propose still make the new tree extend this node's own log.
    if (!final) return;
    const known = [st.lastSignedBody, finalBody].filter((b): b is string => b !== null).map((b) => checkpointHash(h, b));
    if (known.length === 0) known.push(GENESIS_PREV);
    if (!known.some((p) => bytesEqual(p, cp.prev))) {
      throw new NodeError(
        422,
        'bad-prev',
        `prev names neither the last checkpoint this node signed (size ${st.lastSignedBody ? st.size : 'none'}) nor the last final one (size ${final?.size ?? 'none'})`,
      );
    }
  }

  /** POST /v1/finalize: stores a checkpoint that has a quorum of signatures and matches this log. */
  async finalize(input: { note: unknown }): Promise<{ ok: true }> {
    if (typeof input.note !== 'string') throw new NodeError(400, 'bad-request', 'body must be { note }');
    const note = input.note;
    const { cp, signers } = await this.openFinal(note);
    if (signers < QUORUM) {
      throw new NodeError(422, 'quorum', `${signers} valid signatures from the ${this.verifiers().length} node keys known here; ${QUORUM} needed`);
    }
    return this.exclusive(() => {
      if (this.corrupt) throw new NodeError(422, 'store-mismatch', `this node's store does not match what it signed: ${this.corrupt}`);
      if (cp.size > this.tree.size) {
        void this.catchUp();
        throw new NodeError(409, 'behind', `this node holds ${this.tree.size} entries`, { size: this.tree.size });
      }
      if (!bytesEqual(this.tree.root(cp.size), cp.rootHash)) {
        this.options.log('FINAL CHECKPOINT CONFLICTS WITH THIS LOG', { size: cp.size });
        throw new NodeError(422, 'conflicting-root', `the final root at size ${cp.size} is not this node's`);
      }
      this.adoptFinal(note, cp);
      return { ok: true as const };
    });
  }

  private adoptFinal(note: string, cp: Checkpoint): void {
    if (this.finalAt(cp.size) === null) {
      this.store.appendFinal(note);
      this.pushFinalSize(cp.size);
    }
    const final = this.lastFinal();
    if (!final || cp.size > final.size) this.store.saveState({ ...this.store.state, lastFinalNote: note });
  }

  /**
   * Pulls the latest final checkpoint (quorum-signed) from the peers, fetches the entries it lacks,
   * checks them, recomputes the root and only then adopts it. One catch-up at a time.
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      // Without another pass a finalize that arrives mid catch-up (for a size the peers reached after
      // this pass read their checkpoints) would be dropped, and the node would wait for the next round.
      this.catchUpAgain = true;
      return this.catchingUp;
    }
    this.catchingUp = (async () => {
      do {
        this.catchUpAgain = false;
        await this.catchUpOnce().catch((e: unknown) => this.options.log('catch-up failed', { error: (e as Error).message }));
      } while (this.catchUpAgain);
    })().finally(() => {
      this.catchingUp = null;
    });
    return this.catchingUp;
  }

  private async catchUpOnce(): Promise<void> {
    if (this.corrupt) return;
    await this.refreshPeerKeys();
    const candidates: { peer: string; note: string; cp: Checkpoint }[] = [];
    for (const peer of this.options.peers) {
      try {
        const res = await this.peerGet(peer, '/v1/checkpoint');
        if (!res.ok) continue;
        const note = await res.text();
        const { cp, signers } = await this.openFinal(note);
        if (signers >= QUORUM) candidates.push({ peer, note, cp });
      } catch {
        // an unreachable or lying peer offers nothing
      }
    }
    candidates.sort((a, b) => b.cp.size - a.cp.size);
    const best = candidates[0];
    const final = this.lastFinal();
    if (!best || (final && best.cp.size <= final.size)) return;
    const from = this.tree.size;
    const fetched = best.cp.size > from ? await this.fetchEntries(best.peer, from, best.cp.size) : [];
    await this.exclusive(async () => {
      if (this.corrupt) return;
      const size = this.tree.size;
      const fresh = fetched.slice(Math.max(0, size - from));
      if (size < best.cp.size && from + fetched.length < best.cp.size) return;
      const txn = this.checker.begin();
      const parsed: LedgerEntry[] = [];
      for (let k = 0; k < fresh.length; k++) {
        const checked = txn.checkEntry(fresh[k]!);
        if (isRefusal(checked)) {
          this.options.log('catch-up: a peer entry is refused; not adopting its checkpoint', { index: size + k, code: checked.code, reason: checked.reason });
          return;
        }
        parsed.push(checked);
      }
      const mark = this.tree.size;
      for (const text of fresh) this.tree.append(hashLeaf(h, utf8(text)));
      if (!bytesEqual(this.tree.root(best.cp.size), best.cp.rootHash)) {
        this.tree.truncate(mark);
        this.options.log('catch-up: the recomputed root differs from the signed checkpoint; not adopting it', { size: best.cp.size });
        return;
      }
      try {
        await this.store.appendEntriesDurably(fresh);
      } catch (e) {
        this.tree.truncate(mark);
        throw e;
      }
      txn.commit();
      parsed.forEach((entry, k) => this.index(entry, size + k));
      this.adoptFinal(best.note, best.cp);
      this.options.log('caught up from a peer', { size: best.cp.size, peer: best.peer });
    });
  }

  private async fetchEntries(peer: string, start: number, end: number): Promise<string[]> {
    const out: string[] = [];
    while (start + out.length < end) {
      const res = await this.peerGet(peer, `/v1/entries?start=${start + out.length}&end=${end}`);
      if (!res.ok) throw new Error(`peer answered ${res.status} for entries`);
      const page = ((await res.json()) as { entries: { index: number; entry: string }[] }).entries;
      if (page.length === 0) throw new Error('peer returned no entries');
      for (const { index, entry } of page) {
        if (index !== start + out.length || typeof entry !== 'string') throw new Error('peer returned entries out of order');
        out.push(entry);
      }
    }
    return out;
  }

  /** POST /v1/tally: tallies a poll from this node's own entries up to `size` and signs the statement. */
  tally(input: { pollId: unknown; size: unknown }): Promise<TallyRecord> {
    return this.exclusive(() => {
      const { pollId, size } = input;
      if (typeof pollId !== 'string' || pollId === '' || !Number.isSafeInteger(size) || (size as number) < 0) {
        throw new NodeError(400, 'bad-request', 'body must be { pollId, size }');
      }
      const n = size as number;
      if (n > this.tree.size) {
        void this.catchUp();
        throw new NodeError(409, 'behind', `this node holds ${this.tree.size} entries`, { size: this.tree.size });
      }
      // Asked again for the same poll at the same size over the same log (a retry after a timeout, another
      // instance's verification pass), the node answers with the tally it signed: a tally reads every
      // entry of the poll, so re-doing it per retry costs O(poll) each time and piles up under load.
      const root = n > 0 ? toBase64(this.tree.root(n)) : '';
      const signed = this.tallies.get(pollId);
      if (signed && signed.size === n && this.tallyRoots.get(pollId) === root) return signed;
      let tally: unknown;
      try {
        tally = this.tallyFromLog(pollId, n);
      } catch (e) {
        if (e instanceof TallyError) throw new NodeError(422, e.code, e.message);
        if (e instanceof SealedNotOpened) throw new NodeError(409, e.code, e.message);
        throw new NodeError(404, 'not-found', (e as Error).message);
      }
      const note = signTallyNote(ed, { origin: this.options.origin, pollId, size: n, tallyHash: tallyHash(h, tally) }, [this.signer]);
      const record: TallyRecord = { pollId, size: n, tally, note };
      this.store.appendTally(record);
      this.tallies.set(pollId, record);
      this.tallyRoots.set(pollId, root);
      return record;
    });
  }

  /**
   * The tally of a poll from this node's own entries below `n`, streamed: one pass over the poll's
   * entries (its state, its openings' positions, the counted ballots' positions), then the counted
   * ballots are read back by position and counted one by one. What it holds is typed arrays of
   * positions and, in a budget poll, each counted ballot's approval set (the budget rule needs them all).
   * Throws as the domain does (TallyError, SealedNotOpened), or an Error for a poll not in the log.
   */
  private tallyFromLog(pollId: string, n: number): unknown {
    const list = this.pollIndexes.get(pollId);
    let state: PollState = initialPoll;
    const openings = new Map<number, number>();
    let openingSize: number | undefined;
    // A live poll's ballots by the tally's rule, chosen as they go by. The rule reads allowRevote, which
    // only a PollDraftUpdated changes, before any ballot (a node accepts ballots in an open poll only).
    let live: { chooser: CountedPositions; allowRevote: boolean } | null = null;
    for (const { text, index } of this.pollEntriesBelow(list, list?.countBelow(n) ?? 0)) {
      const entry = parseStoredEntryText(text);
      if (isRefusal(entry) || entry.pollId !== pollId) continue;
      if (entry.kind === 'poll') {
        if (entry.eventType === OPENING_EVENT) {
          const data = entry.data as OpeningData;
          openings.set(data.batch, index);
          openingSize ??= data.size;
        }
        state = evolvePoll(state, { type: entry.eventType, data: entry.data } as PollEvent);
        continue;
      }
      const d = entry.data as { voterTag: string; selections?: BallotSelections };
      if (!d.selections || state.status === 'Initial') continue;
      live ??= { chooser: new CountedPositions(h, state.definition, (p) => this.ballotAt(p)), allowRevote: state.definition.settings.allowRevote };
      live.chooser.offer(index, d.voterTag, entry.at);
    }
    if (state.status === 'Initial') throw new Error(`poll ${pollId} is not in the log`);
    const definition = state.definition;
    if (definition.settings.resultsVisibility !== 'sealed') {
      if (live && live.allowRevote !== definition.settings.allowRevote) throw new Error(`poll ${pollId} changed its re-vote setting after its first ballot`);
      return tallyCounted(definition, this.liveBallots(live?.chooser.positions() ?? new Uint32Array(0)));
    }
    // A sealed poll counts its opened ballots, read at the size its opening names (throws until opened).
    const counted = this.sealedBallots(pollId, definition, openingSize ?? n);
    if (!counted) throw new Error(`this node holds fewer than ${openingSize} entries`);
    return tallyCounted(definition, this.openedBallots(counted, openings));
  }

  /** The voter tag and time of the ballot entry at a log position (for a chooser confirming a voter). */
  private ballotAt(position: number): { voterTag: string; castAt: string } {
    const entry = JSON.parse(this.store.entry(position)) as LedgerEntry;
    return { voterTag: (entry.data as { voterTag: string }).voterTag, castAt: entry.at };
  }

  /** The counted ballots of a live poll, read back by position in log order. */
  private *liveBallots(positions: Uint32Array): Generator<TallyBallot> {
    for (const { text } of this.entriesAt((k) => positions[k]!, positions.length)) {
      const entry = JSON.parse(text) as LedgerEntry;
      const d = entry.data as { voterTag: string; selections: BallotSelections };
      yield { voterTag: d.voterTag, selections: d.selections, castAt: entry.at };
    }
  }

  /** A sealed poll's opened ballots, batch by batch: each batch's opening entry and counted ballots read from the log. */
  private *openedBallots(counted: CountedSealed, openings: ReadonlyMap<number, number>): Generator<TallyBallot> {
    for (let b = 0; b < batchCount(counted.total); b++) {
      const position = openings.get(b);
      if (position === undefined) throw new SealedNotOpened(b);
      const data = (JSON.parse(this.store.entry(position)) as LedgerEntry).data as OpeningData;
      const refs = counted.batch(b);
      for (let j = 0; j < refs.length; j++) {
        const o = data.openings[j]!;
        if (!('unopenable' in o)) yield { voterTag: refs[j]!.voterTag, selections: o.selections as BallotSelections, castAt: refs[j]!.castAt };
      }
    }
  }

  // ---- sealed polls: the nodes' threshold key and opening ----------------------------------------

  /**
   * The counted sealed ballots of a poll in this node's stored log up to `size`; null if it holds fewer.
   * Kept as their log positions; a batch is read back from the log when asked for.
   */
  private sealedBallots(pollId: string, definition: Pick<PollDefinition, 'settings'>, size: number): CountedSealed | null {
    if (size > this.store.entryCount) return null;
    // Keyed by the poll's entries below `size` only: the opening's own entries (appended after `size`,
    // one per batch) must not throw the cache away, or every batch would parse the whole poll again.
    const indexes = this.pollIndexes.get(pollId);
    const below = indexes?.countBelow(size) ?? 0;
    const key = `${pollId}\u0000${size}\u0000${below}`;
    if (this.sealedCache?.key === key) return this.sealedCache.counted;
    const chooser = new CountedPositions(h, definition, (p) => this.ballotAt(p));
    for (const { text, index } of this.pollEntriesBelow(indexes, below)) {
      const entry = parseStoredEntryText(text);
      const ref = isRefusal(entry) ? null : sealedRefOf(entry);
      if (ref) chooser.offer(index, ref.voterTag, ref.castAt);
    }
    const positions = chooser.positions();
    const counted: CountedSealed = { total: positions.length, batch: (b) => this.sealedBatch(positions, b) };
    this.sealedCache = { key, counted };
    return counted;
  }

  /** Batch `b` of the counted sealed ballots at these positions, read from the log. */
  private sealedBatch(positions: Uint32Array, b: number): SealedBallotRef[] {
    const slice = positions.subarray(b * OPEN_BATCH, (b + 1) * OPEN_BATCH);
    const refs: SealedBallotRef[] = [];
    for (const { text, index } of this.entriesAt((k) => slice[k]!, slice.length)) {
      const ref = sealedRefOf(JSON.parse(text) as LedgerEntry);
      if (!ref) throw new Error(`entry ${index} of the log is no longer the sealed ballot it was`);
      refs.push(ref);
    }
    return refs;
  }

  /** GET /v1/threshold: this node's transport key and the public key sets it holds a share of. */
  thresholdInfo(): { nodeId: number; transportKey: string; current: PublicKeySet | null; keySets: PublicKeySet[] } {
    return { nodeId: this.options.id, transportKey: this.threshold.transportKey, current: this.threshold.current(), keySets: this.threshold.allKeySets() };
  }

  /** POST /v1/threshold/deal: this node's dealing for a key ceremony. */
  deal(input: { epoch: unknown; transportKeys: unknown }): Promise<Dealing> {
    return this.mutex.runExclusive(() => this.threshold.deal(input.epoch, input.transportKeys));
  }

  /** POST /v1/threshold/complete: this node's share from every node's dealing; the public key set. */
  completeCeremony(input: { epoch: unknown; dealings: unknown }): Promise<PublicKeySet> {
    return this.mutex.runExclusive(() => this.threshold.complete(input.epoch, input.dealings));
  }

  /**
   * POST /v1/polls/:pollId/shares: this node's decryption shares (with their proof) for one batch of the
   * poll's counted sealed ballots at log size `size`. Only once the poll is closed by this node's own
   * clock or log: before that, no node helps anyone read a ballot.
   */
  openShares(input: { pollId: unknown; size: unknown; batch: unknown }): Promise<{ pollId: string; size: number; batch: number; total: number; shares: ShareBatch }> {
    return this.mutex.runExclusive(() => {
      const { pollId, size, batch } = input;
      if (typeof pollId !== 'string' || !Number.isSafeInteger(size) || !Number.isSafeInteger(batch) || (batch as number) < 0) {
        throw new NodeError(400, 'bad-request', 'body must be { size, batch }');
      }
      const poll = this.checker.poll(pollId);
      if (!poll) throw new NodeError(404, 'not-found', `poll ${pollId} is not in this node's log`);
      if (poll.definition.settings.resultsVisibility !== 'sealed') throw new NodeError(422, 'opening.not-sealed', `poll ${pollId} is not sealed`);
      const status = pollStatusAt(poll, new Date().toISOString());
      if (status === 'Open' || status === 'Scheduled' || status === 'Draft') throw new NodeError(409, 'opening.poll-open', `poll ${pollId} is not closed yet`);
      const counted = this.sealedBallots(pollId, poll.definition, size as number);
      if (!counted) {
        void this.catchUp();
        throw new NodeError(409, 'behind', `this node holds ${this.tree.size} entries`, { size: this.tree.size });
      }
      if ((batch as number) >= batchCount(counted.total)) throw new NodeError(404, 'not-found', `batch ${String(batch)} is beyond the poll's ${counted.total} counted sealed ballots`);
      const slice = counted.batch(batch as number);
      const shares = this.threshold.shares(slice[0]!.sealed.keyId, { pollId, batch: batch as number }, itemsOf(slice));
      return { pollId, size: size as number, batch: batch as number, total: counted.total, shares };
    });
  }

  close(): void {
    this.closed = true;
    this.store.close();
    this.finalSizes.close();
    this.trackers.close();
    this.pollIndexes.close();
    for (const file of this.levelFiles) file.close();
  }
}
