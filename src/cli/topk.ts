// `hotpath topk`: streaming heavy hitters of lines or words from a file or stdin. Memory is the
// sketch plus k candidates plus one batch, whatever the input size.
import fs from 'node:fs';
import { TopK, type Key } from '../countmin/index.js';
import path from 'node:path';
import { escapeForTerminal, parseCommandArgs, positiveIntegerFlag, progressReporter, UsageError } from './io.js';

/** Bytes read per chunk from a file (stdin delivers what the pipe holds). */
const CHUNK_BYTES = 1 << 20;

/** A problem with an input file (not with how the command was called): exit status 1. */
class InputError extends Error {
  override name = 'InputError';
}

/** Fails before any input is read when FILE can't be written: a missing directory, a directory, no permission. */
function checkWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new InputError(`--save ${file}: no such directory: ${dir}`);
  if (fs.existsSync(file)) {
    if (fs.statSync(file).isDirectory()) throw new InputError(`--save ${file}: is a directory`);
    fs.accessSync(file, fs.constants.W_OK);
  } else {
    fs.accessSync(dir, fs.constants.W_OK);
  }
}

function numberFlag(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${value}'`);
  return n;
}

function jsonKey(key: Key): string {
  if (typeof key === 'string') return key;
  if (key instanceof Uint8Array) return `0x${Buffer.from(key).toString('hex')}`;
  return String(key);
}

/** A TopK from saved runs (merged) or from the dimension flags. */
function startingTopK(flags: Record<string, unknown>, k: number | undefined): TopK {
  const loads = (flags.load as string[] | undefined) ?? [];
  const dimensionFlags = ['epsilon', 'delta', 'width', 'depth', 'seed'].filter((f) => flags[f] !== undefined);
  if (loads.length > 0) {
    if (dimensionFlags.length > 0)
      throw new UsageError(`--load takes the dimensions and seed from the file; drop --${dimensionFlags.join(', --')}`);
    // Problems with the files (unreadable, damaged, dimensions that don't match) are input errors, exit 1.
    const runs = loads.map((file) => {
      try {
        return TopK.fromBuffer(fs.readFileSync(file));
      } catch (error) {
        throw new InputError(`--load ${file}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
      }
    });
    const { sketch } = runs[0];
    const start = new TopK(k ?? runs[0].k, {
      width: sketch.width,
      depth: sketch.depth,
      seed: sketch.seed,
      counter: sketch.counter,
    });
    try {
      return start.merge(...runs);
    } catch (error) {
      throw new InputError(`--load: the saved runs cannot be merged: ${(error as Error).message}`, { cause: error });
    }
  }
  const seed = flags.seed === undefined ? 0 : numberFlag('seed', flags.seed as string);
  if (flags.width !== undefined || flags.depth !== undefined) {
    if (flags.epsilon !== undefined || flags.delta !== undefined)
      throw new UsageError('give --width/--depth or --epsilon/--delta, not both');
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
    },
  });
  if (positionals.length > 1) throw new UsageError(`expected at most one input file, got ${positionals.length}`);
  const by = flags.by ?? 'line';
  if (by !== 'line' && by !== 'word') throw new UsageError(`--by must be line or word, got '${by}'`);
  const k = flags.k === undefined ? undefined : positiveIntegerFlag('k', flags.k, 20);
  if (flags.save) checkWritable(flags.save);
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
    // Raw chunks straight into the sketch's byte path: no string per line, a key cut by a chunk boundary
    // is carried to the next chunk, and memory stays one chunk plus the sketch.
    if (file !== undefined && file !== '-') fs.accessSync(file, fs.constants.R_OK);
    const input =
      file === undefined || file === '-' ? process.stdin : fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
    const separator = by === 'line' ? '\n' : 'whitespace';
    let bytes = 0;
    const progress = progressReporter('hotpath topk: items');
    for await (const chunk of input as AsyncIterable<Buffer>) {
      topK.updateLines(chunk, { separator, stream: true });
      bytes += chunk.length;
      progress.tick(topK.sketch.totalCount, bytes);
    }
    topK.updateLines(new Uint8Array(0), { separator });
    progress.done();
  }
  if (flags.save) fs.writeFileSync(flags.save, topK.toBuffer());

  const { sketch } = topK;
  const items = topK.list().map((e) => ({ ...e, key: jsonKey(e.key) }));
  if (flags.json) {
    const summary = {
      k: topK.k,
      totalCount: sketch.totalCount,
      width: sketch.width,
      depth: sketch.depth,
      epsilon: sketch.epsilon,
      delta: sketch.delta,
      errorBound: sketch.errorBound,
      backend: sketch.backend,
    };
    process.stdout.write(JSON.stringify({ ...summary, items }) + '\n');
    return 0;
  }
  const width = Math.max(8, ...items.map((e) => String(e.estimate).length));
  process.stdout.write(`${'rank'.padStart(4)}  ${'estimate'.padStart(width)}  ${'lower'.padStart(width)}  key\n`);
  items.forEach((e, i) => {
    process.stdout.write(
      `${String(i + 1).padStart(4)}  ${String(e.estimate).padStart(width)}  ` +
        `${String(Math.ceil(e.lowerBound)).padStart(width)}  ${escapeForTerminal(e.key)}\n`,
    );
  });
  process.stdout.write(
    `\n${sketch.totalCount} items; sketch ${sketch.width} x ${sketch.depth} ` +
      `(epsilon ${sketch.epsilon.toPrecision(3)}, delta ${sketch.delta.toPrecision(3)}): ` +
      `each estimate is at most ${sketch.errorBound.toFixed(1)} over the true count ` +
      `with probability ${(1 - sketch.delta).toPrecision(4)}\n`,
  );
  return 0;
}
