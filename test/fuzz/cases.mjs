// Case ids: `api:N`, `buffers:N`, `scenario:N`. The subject (API target or scenario) follows from N round-robin, so
// every subject runs early in a short pass and an id alone (with the run seed) replays a case.
import { TARGETS } from './targets.mjs';
import { SCENARIOS } from './scenarios.mjs';

const TARGET_NAMES = Object.keys(TARGETS);
const SCENARIO_NAMES = Object.keys(SCENARIOS);

/** @returns {{ group: string, index: number, name: string }} */
export function caseSubject(id) {
  const match = /^(api|buffers|scenario):(\d+)$/.exec(id);
  if (!match) throw new RangeError(`fuzz: a case id is api:N, buffers:N or scenario:N, got '${id}'`);
  const index = Number(match[2]);
  const group = match[1];
  if (group === 'api') return { group, index, name: TARGET_NAMES[index % TARGET_NAMES.length] };
  if (group === 'scenario') return { group, index, name: SCENARIO_NAMES[index % SCENARIO_NAMES.length] };
  return { group, index, name: 'mutated buffer' };
}

export const SUBJECTS = { api: TARGET_NAMES, scenario: SCENARIO_NAMES };
