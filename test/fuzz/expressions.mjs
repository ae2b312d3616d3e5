// Expression sources for evaluate/compile/parse/vectorize: random well-formed trees over the whole language, and
// adversarial text (token soup, truncation, deep nesting, long flat chains, odd literals and characters).

const BINARY = ['+', '-', '*', '/', '%', '**', '<', '<=', '==', '!=', '>=', '>', '&', '|'];
const UNARY = ['-', '~', '+'];
const LITERALS = ['0', '1', '2', '.5', '1e-3', '1e308', '1e999', '5e-324', '0.1', '3', '64', '65', '-1', 'pi', 'e'];
const REDUCTIONS = ['sum', 'prod', 'min', 'max', 'mean'];
const TOKENS = [
  ...BINARY,
  ...UNARY,
  '(',
  ')',
  ',',
  'a',
  'b',
  'c',
  'where',
  'sin',
  'sum',
  '1',
  '.',
  'e',
  'E',
  '1e',
  '0x10',
  '_',
  '$',
  '@',
  '#',
  '"',
  "'",
  '\\',
  '\n',
  '\t',
  ' ',
  '\u00a0',
  '😀',
  '\u0000',
  '**-',
  'nan',
  'inf',
  'a.b',
];

/** A random well-formed expression over variables `names` using `functions` (name → arity). */
export function randomExpression(rng, functions, names, depth = 0) {
  const leafOnly = depth >= rng.int(2, 6);
  const roll = leafOnly ? rng.int(0, 1) : rng.int(0, 5);
  if (roll === 0) return rng.pick(names);
  if (roll === 1) return rng.pick(LITERALS);
  if (roll === 2) return `${rng.pick(UNARY)}${randomExpression(rng, functions, names, depth + 1)}`;
  if (roll === 3) {
    const [name, arity] = rng.pick(Object.entries(functions));
    const args = Array.from({ length: arity }, () => randomExpression(rng, functions, names, depth + 1));
    return `${name}(${args.join(', ')})`;
  }
  const op = rng.pick(BINARY);
  const left = randomExpression(rng, functions, names, depth + 1);
  const right =
    op === '**' && rng.chance(0.5) ? String(rng.int(-3, 70)) : randomExpression(rng, functions, names, depth + 1);
  return `(${left} ${op} ${right})`;
}

/** Any expression text: well formed (maybe under a reduction), or adversarial. */
export function expressionText(rng, functions, names) {
  const roll = rng.int(0, 9);
  if (roll <= 4) {
    const body = randomExpression(rng, functions, names);
    return rng.chance(0.2) ? `${rng.pick(REDUCTIONS)}(${body})` : body;
  }
  if (roll === 5) return Array.from({ length: rng.int(0, 30) }, () => rng.pick(TOKENS)).join(rng.pick(['', ' ']));
  if (roll === 6) {
    const text = randomExpression(rng, functions, names);
    return text.slice(0, rng.int(0, text.length));
  }
  if (roll === 7) {
    const depth = rng.pick([10, 100, 500, 1000, 3000, 20_000]);
    const open = rng.pick(['(', 'sin(', '-', '~', 'sum(', 'a+(']);
    const close = open.endsWith('(') ? ')' : '';
    return `${open.repeat(depth)}a${close.repeat(rng.chance(0.9) ? depth : rng.int(0, depth))}`;
  }
  if (roll === 8) {
    const terms = rng.pick([100, 1000, 10_000, 50_000]);
    const term = (i) => (rng.chance(0.5) ? names[i % names.length] : String(i));
    return Array.from({ length: terms }, (_, i) => term(i)).join(rng.pick(BINARY));
  }
  return rng.pick([
    '',
    ' ',
    'a',
    'a b',
    'a +',
    '()',
    'sum(sum(a))',
    'where(a)',
    'sin()',
    'sin(a, b)',
    'a ** ** b',
    'zzz(a)',
    'a'.repeat(10_000),
    '1'.repeat(400),
    `${'9'.repeat(400)}.5e-999`,
    'a + b'.repeat(2000),
    'constructor',
    '__proto__ + a',
    'toString(a)',
    'hasOwnProperty',
    'sum(a) + 1',
    'mean(a)',
    '(((a)))',
    '--a',
    '~~~a',
    'a<b<c',
  ]);
}

/** Arrow-function source for vectorize: JS built from an expression tree, or JS the vectorizer must refuse. */
export function arrowSource(rng, names) {
  const body = randomExpression(
    rng,
    { 'Math.sin': 1, 'Math.sqrt': 1, 'Math.max': 2, 'Math.pow': 2, 'Math.hypot': 2 },
    names,
  )
    .replaceAll('~', '!')
    .replaceAll(' & ', ' && ')
    .replaceAll(' | ', ' || ')
    .replaceAll(' == ', ' === ');
  const roll = rng.int(0, 5);
  if (roll === 0) return `(${names}) => { const t = ${body}; return t * 2; }`;
  if (roll === 1) {
    return rng.pick([
      '(a) => a.b',
      '(a) => { while (1) {} }',
      '(a) => k',
      '(a) => `x`',
      'function (a) { return a; }',
      '(...a) => a',
      '({ a }) => a',
      '(a = 1) => a',
      'async (a) => a',
      '(a) => { let b = a; b++; return b; }',
      '(a) => a[0]',
    ]);
  }
  return `(${names.join(', ')}) => ${body}`;
}
