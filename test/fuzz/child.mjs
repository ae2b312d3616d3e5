// One fuzz child process: runs the cases named on its command line against the built package and reports each on
// stdout (`@@start id`, then `@@done id outcome` or `@@fail id why`). A crash kills only this process; the driver
// (run.mjs) sees which case had started and reports it. Scenarios mark their progress with `@@step id what` lines,
// which the driver shows when the case hangs. Run with --expose-gc (the scenarios collect garbage).
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { Random } from './random.mjs';
import { MAY_PEND, OpenclFixture, TARGETS } from './targets.mjs';
import { Finding, mutatedBufferCase } from './buffers.mjs';
import { EXITS, SCENARIOS } from './scenarios.mjs';
import { caseSubject } from './cases.mjs';

const require = createRequire(import.meta.url);
const entry = require.resolve('../../dist/index.js');
const hp = require(entry);
const { seed, cases, promiseTimeoutMs } = JSON.parse(process.argv[2]);
let current = null;

/** Protocol lines go through one synchronous write each (stdout is a pipe: synchronous on Linux). */
function report(kind, id, detail = '') {
  process.stdout.write(`@@${kind} ${id}${detail ? ` ${detail.replace(/\s+/g, ' ').slice(0, 500)}` : ''}\n`);
}

function describeThrown(value) {
  return `${typeof value} ${inspect(value, { depth: 1, breakLength: Infinity }).slice(0, 300)}`;
}

/** An acceptable outcome names what happened; anything else throws a string describing the failure. */
function classify(error) {
  if (error instanceof Finding) throw `wrong answer: ${error.message}`;
  if (!(error instanceof Error)) throw `threw a non-Error: ${describeThrown(error)}`;
  return `${error.name}`;
}

for (const event of ['unhandledRejection', 'uncaughtException']) {
  process.on(event, (error) => {
    report('fail', current ?? 'none', `${event}: ${error instanceof Error ? error.stack : describeThrown(error)}`);
    process.exit(3);
  });
}

/** Objects the API cases share within this process (an OpenCL context and a built kernel). */
const fixtures = { opencl: new OpenclFixture(hp) };

async function runCase(id) {
  const rng = new Random(seed, id);
  const { group, name } = caseSubject(id);
  if (group === 'buffers') return mutatedBufferCase(rng, hp);
  if (group === 'scenario') return SCENARIOS[name](rng, hp, { entry, step: (what) => report('step', id, what) });
  const result = TARGETS[name](rng, hp, fixtures);
  if (!(result instanceof Promise)) return result;
  if (MAY_PEND.has(name)) {
    result.catch((error) => {
      try {
        classify(error);
      } catch (failure) {
        report('fail', id, `settled late: ${failure}`);
      }
    });
    return 'promise';
  }
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(`promise did not settle within ${promiseTimeoutMs} ms`), promiseTimeoutMs);
  });
  try {
    return await Promise.race([result, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

for (const id of cases) {
  current = id;
  report('start', id);
  let outcome;
  try {
    const value = await runCase(id);
    if (value === EXITS) {
      report('done', id, 'exits');
      process.exit(0);
    }
    outcome = 'ok';
  } catch (error) {
    try {
      outcome = classify(error);
    } catch (failure) {
      report('fail', id, String(failure));
      continue;
    }
  }
  report('done', id, outcome);
}
current = null;
report('end', '-');
process.exit(0);
