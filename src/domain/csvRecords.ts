/**
 * CSV records with the line each starts on, read by csv-parse (relaxed quotes, any of the given
 * separators, CRLF / LF / CR line ends, even mixed). csv-parse's own line count treats a CRLF inside a
 * quoted field as two lines, so lines are counted here from the byte offsets it reports. Pure.
 */
import { CsvError, parse as parseCsv } from 'csv-parse/sync';

export interface CsvRecord {
  /** 1-based line the record starts on. */
  line: number;
  fields: string[];
}

export class CsvRecordsError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
    /** The records read before the one that failed. */
    readonly before: CsvRecord[],
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'CsvRecordsError';
  }
}

/** Records of `text` in order, blank lines skipped. Throws {@link CsvRecordsError} naming the line. */
export function csvRecords(text: string, delimiter: string[], options: { trim?: boolean } = {}): CsvRecord[] {
  if (delimiter.length === 1 && !options.trim && !text.includes('"')) return unquotedRecords(text, delimiter[0]!);
  const bytes = new TextEncoder().encode(text);
  // Byte offsets where each line after the first starts.
  const starts: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) starts.push(i + 1);
    else if (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a) starts.push(i + 1);
  }
  const lineAt = (offset: number): number => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  const firstContent = (from: number): number => {
    let i = from;
    while (i < bytes.length && (bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0xef || bytes[i] === 0xbb || bytes[i] === 0xbf)) i++;
    return i;
  };
  const out: CsvRecord[] = [];
  let end = 0;
  try {
    parseCsv(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      bom: true,
      delimiter,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
      trim: options.trim ?? false,
      on_record: (record, context) => {
        out.push({ line: lineAt(firstContent(end)), fields: record });
        end = context.bytes;
        return null;
      },
    });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const reason = error.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quote is never closed' : error.message;
    throw new CsvRecordsError(lineAt(firstContent(end)), reason, out);
  }
  return out.filter((r) => !(r.fields.length === 1 && r.fields[0]!.trim() === ''));
}

/**
 * The records of a text without a quote: each non-blank line is one record, its fields the line split at
 * the separator. That is what csv-parse reads from such a text (no field can span lines or hold the
 * separator without quotes), without its bookkeeping per record (it builds an object of the parse state
 * for every record it hands over: most of the time of a 15,000-voter Pabulib file's VOTES).
 */
function unquotedRecords(text: string, separator: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let line = 1;
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = start; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 10;
    if (c !== 10 && c !== 13) continue;
    if (i > start) {
      const fields = text.slice(start, i).split(separator);
      if (!(fields.length === 1 && fields[0]!.trim() === '')) out.push({ line, fields });
    }
    if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
    line++;
    start = i + 1;
  }
  return out;
}
