// `hotpath topk`: streaming heavy hitters of lines or words from a file or stdin. Memory is the
// sketch plus k candidates plus one batch, whatever the input size.
import fs from 'node:fs';
import { TopK, type Key } from '../countmin/index.js';
import { inputLines, parseCommandArgs, positiveIntegerFlag, progressReporter, UsageError } from './io.js';

export const topkHelp = `Usage: hotpath topk [file|-] [options]

Streams lines (or words) from a file or stdin through a count-min sketch with a top-k heap and
prints the k most frequent with estimates and error bounds. Memory is bounded by the sketch.

Options:
  --k N             how many heavy hitters to keep (default 20)
  --epsilon E       additive error per estimate, as a fraction of the total (default 0.0001)
  --delta D         probability an estimate exceeds that error (default 0.001)
  --width W         sketch width instead of --epsilon (with --depth)
  --depth D         sketch depth instead of --delta (with --width)
  --by line|word    count whole lines (default) or whitespace-separated words; empty ones are skipped
  --seed N          hash seed (default 0); runs merge only with equal seeds and dimensions
  --save FILE       write the sketch and candidates to FILE when done
  --load FILE       start from a saved run (repeat to merge several); dimensions come from the file.
                    With --load and no input file, stdin is read only when it is not a terminal.
  --json            print one JSON object
  -h, --help        show this help
`;

const BATCH = 8_192;

function numberFlag(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${value}'`);
  return n;
}

function printableKey(key: Key): string {
  if (typeof key === 'string') return key;
  if (key instanceof Uint8Array) return `0x${Buffer.from(key).toString('hex')}`;
  return String(key);
}

/** A TopK from saved runs (merged) or from the dimension flags. */
function startingTopK(flags: Record<string, unknown>, k: number | undefined): TopK {
  const loads = (flags.load as string[] | undefined) ?? [];
  const dimensionFlags = ['epsilon', 'delta', 'width', 'depth', 'seed'].filter((f) => flags[f] !== undefined);
  if (loads.length > 0) {
    if (dimensionFlags.length > 0) throw new UsageError(`--load takes the dimensions and seed from the file; drop --${dimensionFlags.join(', --')}`);
    const runs = loads.map((file) => TopK.fromBuffer(fs.readFileSync(file)));
    const { sketch } = runs[0];
    return new TopK(k ?? runs[0].k, { width: sketch.width, depth: sketch.depth, seed: sketch.seed, counter: sketch.counter }).merge(...runs);
  }
  const seed = flags.seed === undefined ? 0 : numberFlag('seed', flags.seed as string);
  if (flags.width !== undefined || flags.depth !== undefined) {
    if (flags.epsilon !== undefined || flags.delta !== undefined) throw new UsageError('give --width/--depth or --epsilon/--delta, not both');
    const width = positiveIntegerFlag('width', flags.width as string | undefined, 0);
    const depth = positiveIntegerFlag('depth', flags.depth as string | undefined, 0);
    if (width === 0 || depth === 0) throw new UsageError('--width and --depth go together');
    return new TopK(k ?? 20, { width, depth, seed });
  }
  const epsilon = flags.epsilon === undefined ? 1e-4 : numberFlag('epsilon', flags.epsilon as string);
  const delta = flags.delta === undefined ? 1e-3 : numberFlag('delta', flags.delta as string);
  return new TopK(k ?? 20, { epsilon, delta, seed });
}

export async function topkCommand(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      k: { type: 'string' },
      epsilon: { type: 'string' },
      delta: { type: 'string' },
      width: { type: 'string' },
      depth: { type: 'string' },
      by: { type: 'string' },
      seed: { type: 'string' },
      save: { type: 'string' },
      load: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    process.stdout.write(topkHelp);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`expected at most one input file, got ${positionals.length}`);
  const by = flags.by ?? 'line';
  if (by !== 'line' && by !== 'word') throw new UsageError(`--by must be line or word, got '${by}'`);
  const k = flags.k === undefined ? undefined : positiveIntegerFlag('k', flags.k, 20);
  let topK: TopK;
  try {
    topK = startingTopK(flags, k);
  } catch (error) {
    // Bad --epsilon/--width values surface from the constructor: they are usage errors here.
    if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }

  const file = positionals[0];
  const readInput = file !== undefined || !(flags.load && process.stdin.isTTY);
  if (readInput) {
    const batch: string[] = [];
    let lines = 0;
    const progress = progressReporter('hotpath topk: lines');
    for await (const line of inputLines(file)) {
      lines++;
      if (by === 'line') {
        if (line !== '') batch.push(line);
      } else {
        for (const word of line.split(/\s+/)) if (word !== '') batch.push(word);
      }
      if (batch.length >= BATCH) {
        topK.updateMany(batch);
        batch.length = 0;
        progress.tick(lines);
      }
    }
    topK.updateMany(batch);
    progress.done();
  }
  if (flags.save) fs.writeFileSync(flags.save, topK.toBuffer());

  const { sketch } = topK;
  const items = topK.list().map((e) => ({ ...e, key: printableKey(e.key) }));
  if (flags.json) {
    const summary = { k: topK.k, totalCount: sketch.totalCount, width: sketch.width, depth: sketch.depth, epsilon: sketch.epsilon, delta: sketch.delta, errorBound: sketch.errorBound, backend: sketch.backend };
    process.stdout.write(JSON.stringify({ ...summary, items }) + '\n');
    return 0;
  }
  const width = Math.max(8, ...items.map((e) => String(e.estimate).length));
  process.stdout.write(`${'rank'.padStart(4)}  ${'estimate'.padStart(width)}  ${'lower'.padStart(width)}  key\n`);
  items.forEach((e, i) => {
    process.stdout.write(`${String(i + 1).padStart(4)}  ${String(e.estimate).padStart(width)}  ${String(Math.ceil(e.lowerBound)).padStart(width)}  ${e.key}\n`);
  });
  process.stdout.write(
    `\n${sketch.totalCount} items; sketch ${sketch.width} x ${sketch.depth} (epsilon ${sketch.epsilon.toPrecision(3)}, delta ${sketch.delta.toPrecision(3)}): ` +
      `each estimate is at most ${sketch.errorBound.toFixed(1)} over the true count with probability ${(1 - sketch.delta).toPrecision(4)}\n`,
  );
  return 0;
}
