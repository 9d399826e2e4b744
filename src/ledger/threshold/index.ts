/** Threshold sealing of ballots: DKG (vss.ts), hybrid encryption (hybrid.ts, seal.ts), threshold decryption (decryption.ts). */
export * from './group.ts';
export * from './hybrid.ts';
export * from './vss.ts';
export * from './seal.ts';
export * from './decryption.ts';
