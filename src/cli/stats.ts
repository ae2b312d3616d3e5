// `hotpath stats`: streaming moments of numbers from a file or stdin, in constant memory. Without --column
// each line is one number; with --column the input is CSV, parsed by csv-parse (quoting, CRLF, BOM) rather
// than split by hand, and columns are chosen by number or by header name. No numbers at all is a failure,
// not a table of NaN.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { Moments, type NanPolicy } from '../moments/index.js';
import { formatNumber, inputLines, parseCommandArgs, progressReporter, UsageError } from './io.js';

const NUMBER = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;
const BATCH = 65_536;
const MAX_WARNINGS = 5;

/** One input record: its fields and the input line it ends on (for messages). */
interface InputRecord {
  fields: string[];
  line: number;
}

/** One column being summarized. */
interface Column {
  name: string;
  index: number;
  moments: Moments;
  batch: Float64Array;
  filled: number;
}

export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (!NUMBER.test(t)) return undefined;
  const lower = t.toLowerCase();
  if (lower.endsWith('nan')) return NaN;
  if (lower.includes('inf')) return t.startsWith('-') ? -Infinity : Infinity;
  return Number(t);
}

/** `--column 2,price` → [2, 'price']; 'all' → 'all'. */
function parseColumnSpec(spec: string): (number | string)[] | 'all' {
  if (spec.trim() === 'all') return 'all';
  return spec.split(',').map((part) => {
    const item = part.trim();
    if (item === '') throw new UsageError(`--column has an empty entry: '${spec}'`);
    if (/^\d+$/.test(item)) {
      const n = Number(item);
      if (n < 1) throw new UsageError(`--column numbers start at 1, got '${item}'`);
      return n;
    }
    return item;
  });
}

function openInput(file: string | undefined): Readable {
  return file === undefined || file === '-' ? process.stdin : fs.createReadStream(file);
}

/** Records of the input: one field per line without CSV, csv-parse's records with it. */
async function* inputRecords(
  file: string | undefined,
  csv: { delimiter: string } | null,
  counter: { bytes: number },
): AsyncGenerator<InputRecord> {
  const stream = openInput(file);
  stream.on('data', (chunk: Buffer | string) => {
    counter.bytes += chunk.length;
  });
  if (csv === null) {
    let line = 0;
    for await (const text of inputLines(stream)) {
      line++;
      if (text.trim() !== '') yield { fields: [text], line };
    }
    return;
  }
  const parser = stream.pipe(
    parseCsv({ delimiter: csv.delimiter, bom: true, relax_column_count: true, skip_empty_lines: true, info: true }),
  );
  stream.on('error', (error) => parser.destroy(error));
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    yield { fields: record, line: info.lines };
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  // JSON has no NaN/Infinity: write them as strings so no value is silently turned into null.
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

function summary(column: Column, skipped: number) {
  const { moments } = column;
  return {
    count: moments.count,
    mean: moments.mean,
    variance: moments.variance(),
    std: moments.std(),
    skewness: moments.skewness(),
    kurtosis: moments.kurtosis(),
    min: moments.min,
    max: moments.max,
    nanCount: moments.nanCount,
    skipped,
    backend: moments.backend,
  };
}

export async function statsCommand(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      column: { type: 'string' },
      delimiter: { type: 'string' },
      header: { type: 'boolean' },
      'no-header': { type: 'boolean' },
      nan: { type: 'string' },
      strict: { type: 'boolean' },
      'allow-empty': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length > 1) throw new UsageError(`expected at most one input file, got ${positionals.length}`);
  if (flags.header && flags['no-header']) throw new UsageError('give --header or --no-header, not both');
  const spec = flags.column === undefined ? null : parseColumnSpec(flags.column);
  const delimiter = flags.delimiter ?? ',';
  if (delimiter.length === 0) throw new UsageError('--delimiter must not be empty');
  if (flags.delimiter !== undefined && spec === null) throw new UsageError('--delimiter needs --column');
  const nan = (flags.nan ?? 'omit') as NanPolicy;
  if (!['propagate', 'omit', 'raise'].includes(nan))
    throw new UsageError(`--nan must be propagate, omit or raise, got '${nan}'`);
  const byName = Array.isArray(spec) && spec.some((item) => typeof item === 'string');
  if (byName && flags['no-header']) throw new UsageError('--column by name needs a header row; drop --no-header');

  const file = positionals[0];
  // A missing file fails before any work.
  if (file !== undefined && file !== '-') fs.accessSync(file, fs.constants.R_OK);

  let columns: Column[] | null = null;
  let records = 0;
  let lastLine = 0;
  let skipped = 0;
  let headerLine: number | null = null;
  let headerNames: string[] | null = null;
  const counter = { bytes: 0 };
  const progress = progressReporter('hotpath stats: lines');
  const newColumn = (name: string, index: number): Column => ({
    name,
    index,
    moments: new Moments({ nan }),
    batch: new Float64Array(BATCH),
    filled: 0,
  });
  const flush = (column: Column) => {
    column.moments.pushArray(column.batch.subarray(0, column.filled));
    column.filled = 0;
  };
  const skip = (line: number, what: string) => {
    if (flags.strict) throw new Error(`line ${line}: ${what}`);
    if (++skipped <= MAX_WARNINGS) process.stderr.write(`hotpath stats: line ${line}: ${what} (skipped)\n`);
  };

  for await (const { fields, line } of inputRecords(file, spec === null ? null : { delimiter }, counter)) {
    lastLine = line;
    records++;
    if (columns === null) {
      // The first record decides the header and the columns.
      const candidates =
        spec === null
          ? [0]
          : spec === 'all'
            ? fields.map((_, i) => i)
            : spec.map((item) => (typeof item === 'number' ? item - 1 : -1));
      const numeric = candidates.some((i) => i >= 0 && i < fields.length && parseNumber(fields[i]) !== undefined);
      const isHeader = flags.header === true || (flags['no-header'] !== true && (byName || !numeric));
      const names = isHeader ? fields.map((f) => f.trim()) : fields.map((_, i) => String(i + 1));
      if (spec === null) columns = [newColumn(isHeader ? names[0] : 'value', 0)];
      else if (spec === 'all') columns = [];
      else {
        columns = spec.map((item) => {
          if (typeof item === 'number')
            return newColumn(isHeader && names[item - 1] ? names[item - 1] : String(item), item - 1);
          const index = names.indexOf(item);
          if (index < 0)
            throw new UsageError(
              `no column named '${item}' in the header (${names.map((n) => JSON.stringify(n)).join(', ')})`,
            );
          return newColumn(item, index);
        });
      }
      if (isHeader) {
        headerLine = line;
        headerNames = names;
        continue;
      }
    }
    if (spec === 'all' && columns.length === 0) {
      // 'all': the numeric columns of the first data row.
      fields.forEach((f, i) => {
        if (parseNumber(f) !== undefined) columns!.push(newColumn(headerNames?.[i] || String(i + 1), i));
      });
      if (columns.length === 0) {
        skip(line, 'no numeric column');
        continue;
      }
    }
    for (const column of columns) {
      const field = fields[column.index];
      const value = field === undefined ? undefined : parseNumber(field);
      if (value === undefined) {
        skip(
          line,
          field === undefined
            ? `has no column ${column.index + 1}`
            : `not a number: ` +
                `${JSON.stringify(field.slice(0, 40))}${columns.length > 1 ? ` in column ${column.name}` : ''}`,
        );
        continue;
      }
      if (Number.isNaN(value) && nan === 'raise')
        throw new Error(`line ${line}: NaN in column ${column.name} (--nan raise)`);
      column.batch[column.filled++] = value;
      if (column.filled === BATCH) flush(column);
    }
    if (records % 4096 === 0) progress.tick(records, counter.bytes);
  }
  progress.done();
  columns ??= [];
  columns.forEach(flush);
  if (skipped > MAX_WARNINGS) process.stderr.write(`hotpath stats: ${skipped} malformed lines skipped in all\n`);

  const total = columns.reduce((sum, c) => sum + c.moments.count, 0);
  if (total === 0 && !flags['allow-empty']) {
    const why =
      records === 0
        ? 'the input is empty'
        : headerLine !== null && records === 1
          ? 'only a header row'
          : `${skipped} malformed`;
    process.stderr.write(
      `hotpath stats: no numbers found in ${lastLine} line(s) read (${why}); --allow-empty accepts that\n`,
    );
    return 1;
  }
  if (columns.length === 0) columns = [newColumn('value', 0)];

  const results = columns.map((c) => ({ column: c.name, ...summary(c, skipped) }));
  if (flags.json) {
    const body =
      results.length === 1 && spec === null
        ? summary(columns[0], skipped)
        : results.length === 1
          ? results[0]
          : { columns: results };
    process.stdout.write(JSON.stringify(body, jsonReplacer) + '\n');
    return 0;
  }
  // One table: a row per statistic, a column per input column.
  const keys = Object.keys(summary(columns[0], skipped)) as (keyof ReturnType<typeof summary>)[];
  const cells = keys.map((k) =>
    results.map((r) => (typeof r[k] === 'number' ? formatNumber(r[k] as number) : String(r[k]))),
  );
  const labelWidth = Math.max(...keys.map((k) => k.length));
  const widths = results.map((r, j) => Math.max(r.column.length, ...cells.map((row) => row[j].length)));
  if (results.length > 1) {
    process.stdout.write(
      `${''.padEnd(labelWidth)}  ${results.map((r, j) => r.column.padStart(widths[j])).join('  ')}\n`,
    );
  }
  keys.forEach((k, i) => {
    const row = results.length > 1 ? cells[i].map((c, j) => c.padStart(widths[j])).join('  ') : cells[i][0];
    process.stdout.write(`${k.padEnd(labelWidth)}  ${row}\n`);
  });
  return 0;
}
