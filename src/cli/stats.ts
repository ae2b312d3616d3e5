// `hotpath stats`: streaming moments of numbers from a file or stdin, in constant memory.
import { Moments, type NanPolicy } from '../moments/index.js';
import { inputLines, parseCommandArgs, positiveIntegerFlag, printTable, progressReporter, UsageError } from './io.js';

export const statsHelp = `Usage: hotpath stats [file|-] [options]

Streams numbers (one per line, or one CSV column) from a file or stdin and prints
count, mean, variance (ddof=1), std, skewness, kurtosis (Fisher), min and max.
Memory stays constant whatever the input size.

Options:
  --column N        read the N-th field (1-based) of each line
  --delimiter C     field separator for --column (default ",")
  --nan P           propagate | omit | raise (default omit)
  --strict          a malformed line is an error (default: skip it and count it)
  --json            print one JSON object
  -h, --help        show this help
`;

const NUMBER = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;
const BATCH = 65_536;
const MAX_WARNINGS = 5;

function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (!NUMBER.test(t)) return undefined;
  const lower = t.toLowerCase();
  if (lower.endsWith('nan')) return NaN;
  if (lower.includes('inf')) return t.startsWith('-') ? -Infinity : Infinity;
  return Number(t);
}

export async function statsCommand(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      column: { type: 'string' },
      delimiter: { type: 'string' },
      nan: { type: 'string' },
      strict: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    process.stdout.write(statsHelp);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`expected at most one input file, got ${positionals.length}`);
  const column = flags.column === undefined ? undefined : positiveIntegerFlag('column', flags.column, 1);
  const delimiter = flags.delimiter ?? ',';
  if (delimiter.length === 0) throw new UsageError('--delimiter must not be empty');
  const nan = (flags.nan ?? 'omit') as NanPolicy;
  if (!['propagate', 'omit', 'raise'].includes(nan)) throw new UsageError(`--nan must be propagate, omit or raise, got '${nan}'`);

  const moments = new Moments({ nan });
  const batch = new Float64Array(BATCH);
  let filled = 0;
  let lineNo = 0;
  let skipped = 0;
  const progress = progressReporter('hotpath stats: lines');
  for await (const line of inputLines(positionals[0])) {
    lineNo++;
    if (line.trim() === '') continue;
    const field = column === undefined ? line : line.split(delimiter)[column - 1];
    const value = field === undefined ? undefined : parseNumber(field);
    if (value === undefined) {
      const what = field === undefined ? `has no column ${column}` : `not a number: ${JSON.stringify(field.slice(0, 40))}`;
      if (flags.strict) throw new Error(`line ${lineNo}: ${what}`);
      if (++skipped <= MAX_WARNINGS) process.stderr.write(`hotpath stats: line ${lineNo}: ${what} (skipped)\n`);
      continue;
    }
    batch[filled++] = value;
    if (filled === BATCH) {
      moments.pushArray(batch);
      filled = 0;
      progress.tick(lineNo);
    }
  }
  moments.pushArray(batch.subarray(0, filled));
  progress.done();
  if (skipped > MAX_WARNINGS) process.stderr.write(`hotpath stats: ${skipped} malformed lines skipped in all\n`);

  const result = {
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
  if (flags.json) {
    // JSON has no NaN/Infinity: write them as strings so no value is silently turned into null.
    const replacer = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
    process.stdout.write(JSON.stringify(result, replacer) + '\n');
  } else {
    printTable(Object.entries(result));
  }
  return 0;
}
