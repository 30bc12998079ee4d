/**
 * Input generators: mutations of valid seeds (byte-level and, for JSON, structure-aware) and
 * fast-check arbitraries for structure. Every generator yields bytes, shrinkable by fast-check.
 */
import fc from 'fast-check';

const INTERESTING_BYTES = [
  0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30, 0x2d, 0x0a,
];

type ByteOp =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; v: number }
  | { k: 'del'; at: number; n: number }
  | { k: 'ins'; at: number; b: Uint8Array }
  | { k: 'dup'; at: number; n: number; to: number }
  | { k: 'cut'; at: number }
  | { k: 'len'; at: number; v: number };

const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    k: fc.constant('set' as const),
    at: fc.nat(),
    v: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.integer({ min: 0, max: 255 })),
  }),
  fc.record({ k: fc.constant('del' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ k: fc.constant('ins' as const), at: fc.nat(), b: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ k: fc.constant('dup' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }), to: fc.nat() }),
  fc.record({ k: fc.constant('cut' as const), at: fc.nat() }),
  // DER/CBOR length bytes: a length field set to something large or odd
  fc.record({
    k: fc.constant('len' as const),
    at: fc.nat(),
    v: fc.constantFrom(0x80, 0x81, 0x82, 0x83, 0x84, 0x88, 0xff, 0x1b, 0x5b, 0x7b, 0x9f, 0xbf),
  })
);

function applyByteOp(b: Uint8Array, op: ByteOp): Uint8Array {
  const n = b.length;
  const at = n ? op.at % (n + 1) : 0;
  switch (op.k) {
    case 'flip': {
      if (!n) return b;
      const c = Uint8Array.from(b);
      c[at % n]! ^= 1 << op.bit;
      return c;
    }
    case 'set':
    case 'len': {
      if (!n) return Uint8Array.of(op.v);
      const c = Uint8Array.from(b);
      c[at % n] = op.v;
      return c;
    }
    case 'del':
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(n, at + op.n))]);
    case 'ins':
      return Buffer.concat([b.subarray(0, at), op.b, b.subarray(at)]);
    case 'dup': {
      const piece = b.subarray(at, Math.min(n, at + op.n));
      const to = n ? op.to % (n + 1) : 0;
      return Buffer.concat([b.subarray(0, to), piece, b.subarray(to)]);
    }
    case 'cut':
      return b.subarray(0, at);
  }
}

/** Byte-level mutations (1–6 of them) of one of the seeds. */
export function mutatedBytes(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  if (!seeds.length) throw new Error('mutatedBytes: no seeds');
  return fc
    .record({ seed: fc.nat({ max: seeds.length - 1 }), ops: fc.array(byteOp, { minLength: 1, maxLength: 6 }) })
    .map(({ seed, ops }) => new Uint8Array(ops.reduce(applyByteOp, seeds[seed]!)));
}

/** The seeds themselves (a valid input must keep parsing). */
export function seedsOf(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.constantFrom(...seeds);
}

// --- JSON ----------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Values a parser must be ready for in place of any other. */
const hostileJson: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    -0,
    2 ** 53 + 1,
    '',
    ' ',
    '\u0000',
    '../../etc/passwd',
    'sha256:',
    `sha256:${'0'.repeat(64)}`,
    '__proto__',
    'constructor',
    'x'.repeat(5000),
    [],
    {},
    [null],
    { __proto__: null } as unknown as Json,
    '1970-01-01T00:00:00Z',
    'not-a-date'
  ),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  // deep nesting, hundreds to twenty thousand levels down (deep enough for any recursion): a marker expanded by encodeJson
  fc.integer({ min: 100, max: 20_000 }).map((d) => `${DEEP}${d}`)
);

const DEEP = '\u0000DEEP:';

/** JSON text of a mutated document: deep-nesting markers become `[{"a":[{"a":…1…}]}]` nested that deep. */
export function encodeJson(v: unknown): string {
  const text = JSON.stringify(v) ?? 'null';
  return text.replace(/"\\u0000DEEP:(\d+)"/g, (_, n: string) => {
    const d = Number(n);
    const open = '[{"a":'.repeat(Math.floor(d / 2)) + (d % 2 ? '[' : '');
    const close = (d % 2 ? ']' : '') + '}]'.repeat(Math.floor(d / 2));
    return `${open}1${close}`;
  });
}

type JsonOp =
  | { k: 'replace'; path: number; v: Json }
  | { k: 'delete'; path: number }
  | { k: 'addKey'; path: number; key: string; v: Json }
  | { k: 'wrap'; path: number }
  | { k: 'retype'; path: number }
  | { k: 'repeat'; path: number; times: number };

const jsonOp: fc.Arbitrary<JsonOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('replace' as const), path: fc.nat(), v: hostileJson }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), path: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('addKey' as const),
      path: fc.nat(),
      key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'critical', 'mediaType')),
      v: hostileJson,
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('wrap' as const), path: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('retype' as const), path: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('repeat' as const),
      path: fc.nat(),
      times: fc.integer({ min: 2, max: 300 }),
    }),
  }
);

interface Slot {
  get(): Json;
  set(v: Json): void;
  remove(): void;
}

/** Every value of the document with a way to replace or remove it (the root first). */
function slots(root: { v: Json }): Slot[] {
  const out: Slot[] = [];
  const walk = (get: () => Json, set: (v: Json) => void, remove: () => void, depth: number): void => {
    out.push({ get, set, remove });
    const v = get();
    if (depth > 64 || out.length > 2000) return;
    if (Array.isArray(v)) {
      v.forEach((_, i) =>
        walk(
          () => v[i]!,
          (x) => (v[i] = x),
          () => v.splice(i, 1),
          depth + 1
        )
      );
    } else if (v && typeof v === 'object') {
      for (const k of Object.keys(v))
        walk(
          () => v[k]!,
          (x) => (v[k] = x),
          () => delete v[k],
          depth + 1
        );
    }
  };
  walk(
    () => root.v,
    (x) => (root.v = x),
    () => (root.v = null),
    0
  );
  return out;
}

function retype(v: Json): Json {
  if (typeof v === 'string') return /^\d+$/.test(v) ? Number(v) : [v];
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  if (v && typeof v === 'object') return Object.values(v);
  return {};
}

const MAX_GROWTH = 1_000_000;

function applyJsonOp(doc: { v: Json }, op: JsonOp): void {
  const all = slots(doc);
  const s = all[op.path % all.length]!;
  switch (op.k) {
    case 'replace':
      // a copy: constant values are shared between runs and must never be mutated in place
      return s.set(structuredClone(op.v));
    case 'delete':
      return s.remove();
    case 'addKey': {
      const v = s.get();
      if (v && typeof v === 'object' && !Array.isArray(v))
        Object.defineProperty(v, op.key, {
          value: structuredClone(op.v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else if (Array.isArray(v)) v.push(structuredClone(op.v));
      return;
    }
    case 'wrap':
      return s.set([s.get()]);
    case 'retype':
      return s.set(retype(s.get()));
    case 'repeat': {
      // Growth is capped (about 1 MB per op): a document of hundreds of megabytes tests the
      // generator, not the parser (and parsers refuse oversized input before parsing it).
      const v = s.get();
      if (Array.isArray(v) && v.length) {
        const x = v[0]!;
        const size = (JSON.stringify(x) ?? '').length + 1;
        const times = Math.min(op.times, Math.floor(MAX_GROWTH / size));
        for (let i = 0; i < times; i++) v.push(x);
      } else if (typeof v === 'string' && v.length)
        s.set(v.repeat(Math.max(1, Math.min(op.times, Math.floor(MAX_GROWTH / v.length)))));
      return;
    }
  }
}

/** Structure-aware mutations (1–4) of one of the JSON seeds, encoded as JSON text. */
export function mutatedJson(seeds: unknown[], encode: (v: unknown) => string = encodeJson): fc.Arbitrary<Uint8Array> {
  if (!seeds.length) throw new Error('mutatedJson: no seeds');
  const text = seeds.map((s) => JSON.stringify(s));
  return fc
    .record({ seed: fc.nat({ max: seeds.length - 1 }), ops: fc.array(jsonOp, { minLength: 1, maxLength: 4 }) })
    .map(({ seed, ops }) => {
      const doc = { v: JSON.parse(text[seed]!) as Json };
      for (const op of ops) {
        applyJsonOp(doc, op);
        if ((JSON.stringify(doc.v) ?? '').length > 4 * MAX_GROWTH) break;
      }
      return new Uint8Array(Buffer.from(encode(doc.v)));
    });
}

/** The usual mix for a JSON parser: structure-aware mutations, byte mutations, random JSON, the seeds. */
export function jsonInputs(seeds: unknown[], extra: Array<fc.Arbitrary<Uint8Array>> = []): fc.Arbitrary<Uint8Array> {
  const bytes = seeds.map((s) => new Uint8Array(Buffer.from(JSON.stringify(s))));
  return fc.oneof(
    { weight: 6, arbitrary: mutatedJson(seeds) },
    { weight: 3, arbitrary: mutatedBytes(bytes) },
    {
      weight: 1,
      arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => new Uint8Array(Buffer.from(JSON.stringify(v) ?? 'null'))),
    },
    { weight: 1, arbitrary: seedsOf(bytes) },
    ...extra.map((arbitrary) => ({ weight: 2, arbitrary }))
  );
}

// --- text ----------------------------------------------------------------------------------------

/** Strings built from a grammar's pieces plus arbitrary characters (for references, header values). */
export function textFrom(pieces: string[], seeds: string[]): fc.Arbitrary<Uint8Array> {
  const piece = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...pieces) },
    { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(300), '0'.repeat(70), 'a'.repeat(5000), ' '.repeat(1000)) }
  );
  const encoded = seeds.map((s) => new Uint8Array(Buffer.from(s)));
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(piece, { maxLength: 24 }).map((p) => new Uint8Array(Buffer.from(p.join('')))) },
    { weight: 4, arbitrary: mutatedBytes(encoded) },
    { weight: 1, arbitrary: seedsOf(encoded) }
  );
}

export const utf8 = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
export const bytes = (s: string | Uint8Array): Uint8Array => new Uint8Array(Buffer.from(s));
