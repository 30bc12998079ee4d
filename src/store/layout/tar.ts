import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_MANIFEST_SIZE, OciError, parseDigest, type Descriptor, type ImageIndex } from '../../oci/index.ts';
import { commitFile, tempPathFor } from '../../util/index.ts';
import { readAll } from '../content.ts';
import type { Target } from '../target.ts';
import { LayoutTarget, type LowerBlobs } from './dir.ts';
import { LayoutReader } from './reader.ts';

// tar-stream loads only when a tar layout is read or written.
const tarStream = (): Promise<typeof import('tar-stream')> => import('tar-stream');

const BLOB_ENTRY = /^blobs\/([a-z0-9]+)\/([a-f0-9]{32,128})$/;
const TAR_BLOCK = 512;
const MAX_LAYOUT_FILE = 64 * 1024;

/** Where one blob's bytes sit inside the tar file. */
interface Span {
  offset: number;
  size: number;
}

/**
 * The content of a layout tar, indexed in one streaming pass: the byte span of every blob, and
 * index.json itself (bounded) in memory. Blobs are then read straight from the tar by range, so
 * opening a large archive costs neither memory nor a temp copy.
 */
class TarArchive implements LowerBlobs {
  private constructor(
    readonly path: string,
    private readonly blobs: Map<string, Span>,
    readonly indexBytes: Buffer,
    readonly layoutBytes: Buffer
  ) {}

  static async scan(path: string, name: string): Promise<TarArchive> {
    const blobs = new Map<string, Span>();
    const small = new Map<string, { bytes: Buffer; span: Span }>();
    const ex = (await tarStream()).extract();
    ex.on('entry', (header, stream, next) => {
      const entry = header.name.replace(/^(?:\.\/)+/, '');
      const done = (err?: unknown): void => next(err as Error | undefined);
      // tar-stream reports the offset of the entry's own header block (after any pax or GNU
      // long-name blocks); its data follows that block.
      const span = { offset: stream.offset + TAR_BLOCK, size: header.size };
      const isFile = header.type === 'file' || header.type === 'contiguous-file';
      const blob = isFile ? BLOB_ENTRY.exec(entry) : null;
      if (isFile && (entry === 'index.json' || entry === 'oci-layout')) {
        const limit = entry === 'index.json' ? MAX_MANIFEST_SIZE : MAX_LAYOUT_FILE;
        readAll(stream as unknown as AsyncIterable<Uint8Array>, limit).then((bytes) => {
          small.set(entry, { bytes: Buffer.from(bytes), span });
          done();
        }, done);
        return;
      }
      // Anything else (links, directories, docker-archive files, odd names) is skipped, never followed.
      if (blob) blobs.set(`${blob[1]}:${blob[2]}`, span);
      stream.on('end', () => done());
      // A tar cut short inside this entry fails the entry's stream too: the extract reports it
      // through the pipeline below, so the entry's own error must not go unhandled (a crash).
      stream.on('error', () => {});
      stream.resume();
    });
    try {
      await pipeline(createReadStream(path), ex);
    } catch (err) {
      if (err instanceof OciError) throw err;
      throw new OciError('MANIFEST_INVALID', `${name}: cannot read the tar: ${(err as Error).message}`, { cause: err });
    }
    const layout = small.get('oci-layout');
    const index = small.get('index.json');
    if (!layout || !index)
      throw new OciError(
        'NOT_FOUND',
        `${name}: not an OCI image layout (the tar has no ${layout ? 'index.json' : 'oci-layout'})`
      );
    const archive = new TarArchive(path, blobs, index.bytes, layout.bytes);
    // Offsets come from arithmetic over the tar format: prove them once on index.json.
    const atOffset = await readAll(archive.range(index.span), MAX_MANIFEST_SIZE);
    if (!index.bytes.equals(atOffset))
      throw new OciError('UNSUPPORTED', `${name}: cannot locate entries in this tar by offset`);
    return archive;
  }

  private range(span: Span): Readable {
    if (span.size === 0) return Readable.from([]);
    return createReadStream(this.path, { start: span.offset, end: span.offset + span.size - 1 });
  }

  size(digest: string): number | undefined {
    return this.blobs.get(digest)?.size;
  }

  async open(digest: string): Promise<Readable> {
    const span = this.blobs.get(digest);
    if (!span) throw new OciError('BLOB_UNKNOWN', `oci:${this.path}: ${digest} not found`);
    return this.range(span);
  }

  forget(digest: string): void {
    this.blobs.delete(digest);
  }

  digests(): string[] {
    return [...this.blobs.keys()];
  }
}

/** A tar layout as it was read, before any write. */
class ArchiveReader extends LayoutReader {
  constructor(
    readonly name: string,
    private readonly archive: TarArchive
  ) {
    super();
  }
  protected async readIndexBytes(): Promise<Buffer> {
    return this.archive.indexBytes;
  }
  protected openBlob(digest: string): Promise<Readable> {
    return this.archive.open(digest);
  }
  async exists(desc: Descriptor): Promise<boolean> {
    return this.archive.size(desc.digest) === desc.size;
  }
}

/**
 * An OCI image layout in a `.tar` file. Reading serves blobs from the tar by byte range (see
 * TarArchive). The first write stages a directory layout in a private temp dir that holds only
 * what changed (new blobs, index.json) over the tar's blobs; close() then packs tar and stage
 * into a temp file beside the tar and renames it over, so the tar is replaced whole or not at all.
 */
export class TarLayoutTarget implements Target {
  readonly name: string;
  readonly writable = true;
  private stage: LayoutTarget | null = null;
  private staging: Promise<LayoutTarget> | null = null;
  private work: string | null = null;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly archive: TarArchive | null
  ) {
    this.name = `oci:${path}`;
  }

  /** Opens a layout tar; with `create`, a missing tar is started empty and written on close(). */
  static async open(path: string, options: { create?: boolean } = {}): Promise<TarLayoutTarget> {
    const exists = await stat(path).then(
      (s) => s.isFile(),
      () => false
    );
    if (!exists) {
      if (!options.create) throw new OciError('NOT_FOUND', `oci:${path}: no such file`);
      const t = new TarLayoutTarget(path, null);
      await t.staged();
      return t;
    }
    return new TarLayoutTarget(path, await TarArchive.scan(path, `oci:${path}`));
  }

  private archiveReader: ArchiveReader | null = null;

  /** Reads go to the stage once there is one (it sees the tar's blobs through `lower`), else to the tar. */
  private reader(): LayoutReader {
    if (this.closed) throw new OciError('UNSUPPORTED', `${this.name} is closed`);
    if (this.stage) return this.stage;
    if (!this.archive) throw new OciError('UNAVAILABLE', `${this.name}: not staged yet`);
    return (this.archiveReader ??= new ArchiveReader(this.name, this.archive));
  }

  /** The writable stage, made on first use (once, even under concurrent writes). */
  private staged(): Promise<LayoutTarget> {
    if (this.closed) return Promise.reject(new OciError('UNSUPPORTED', `${this.name} is closed`));
    this.staging ??= (async () => {
      const work = await mkdtemp(join(tmpdir(), 'signet-tar-'));
      this.work = work;
      if (this.archive) {
        await mkdir(join(work, 'blobs', 'sha256'), { recursive: true });
        await writeFile(join(work, 'index.json'), this.archive.indexBytes);
        await writeFile(join(work, 'oci-layout'), this.archive.layoutBytes);
      }
      const stage = await LayoutTarget.open(work, {
        create: true,
        name: this.name,
        ...(this.archive ? { lower: this.archive } : {}),
      });
      this.stage = stage;
      return stage;
    })();
    return this.staging;
  }

  resolve(reference: string): Promise<Descriptor> {
    return this.reader().resolve(reference);
  }
  readIndex(): Promise<ImageIndex> {
    return this.reader().readIndex();
  }
  fetchByDigest(digest: string, maxSize: number): Promise<Uint8Array> {
    return this.reader().fetchByDigest(digest, maxSize);
  }
  exists(desc: Descriptor): Promise<boolean> {
    return this.reader().exists(desc);
  }
  fetch(desc: Descriptor): Promise<Readable> {
    return this.reader().fetch(desc);
  }
  referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    return this.reader().referrers(subject, artifactType);
  }
  tags(): Promise<string[]> {
    return this.reader().tags();
  }
  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    await (await this.staged()).push(desc, content);
  }
  async tag(desc: Descriptor, tag: string): Promise<void> {
    await (await this.staged()).tag(desc, tag);
  }
  async setRefName(desc: Descriptor, ref: string): Promise<void> {
    await (await this.staged()).setRefName(desc, ref);
  }
  async annotateRef(ref: string, annotations: Record<string, string>): Promise<void> {
    await (await this.staged()).annotateRef(ref, annotations);
  }
  async delete(desc: Descriptor): Promise<void> {
    await (await this.staged()).delete(desc);
  }

  /** Writes the tar when anything changed, and removes the stage. Later writes are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      const stage = this.staging ? await this.staging : null;
      if (stage) {
        await stage.close();
        await pack(stage.dir, this.archive, this.path);
      }
    } finally {
      if (this.work) await rm(this.work, { recursive: true, force: true });
    }
  }
}

/** Blob files the stage holds (temp files and strays skipped). */
async function stagedBlobs(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const alg of await readdir(join(dir, 'blobs')).catch(() => [] as string[])) {
    for (const hex of await readdir(join(dir, 'blobs', alg)).catch(() => [] as string[])) {
      if (BLOB_ENTRY.test(`blobs/${alg}/${hex}`)) out.set(`${alg}:${hex}`, join(dir, 'blobs', alg, hex));
    }
  }
  return out;
}

/** Packs the stage over the old tar's blobs into `path`, atomically; oci-layout and index.json first. */
async function pack(dir: string, archive: TarArchive | null, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const own = await stagedBlobs(dir);
  const digests = [...new Set([...own.keys(), ...(archive?.digests() ?? [])])].sort();
  const p = (await tarStream()).pack();
  const tmp = tempPathFor(path);
  const out = pipeline(p, createWriteStream(tmp, { flags: 'wx' }));
  const add = async (name: string, size: number, open: () => Promise<Readable>): Promise<void> => {
    const src = await open();
    await new Promise<void>((resolve, reject) => {
      const entry = p.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()));
      src.on('error', reject).pipe(entry);
    });
  };
  const file = async (name: string, full: string): Promise<void> =>
    add(name, (await stat(full)).size, async () => createReadStream(full));
  try {
    // oci-layout and index.json first, so a streaming reader knows early what it is reading.
    await file('oci-layout', join(dir, 'oci-layout'));
    await file('index.json', join(dir, 'index.json'));
    const dirs = new Set<string>(['blobs/']);
    for (const d of digests) dirs.add(`blobs/${parseDigest(d).algorithm}/`);
    for (const d of [...dirs].sort()) p.entry({ name: d, type: 'directory', mode: 0o755, mtime: new Date(0) });
    for (const d of digests) {
      const { algorithm, hex } = parseDigest(d);
      const staged = own.get(d);
      if (staged) await file(`blobs/${algorithm}/${hex}`, staged);
      else await add(`blobs/${algorithm}/${hex}`, archive!.size(d)!, () => archive!.open(d));
    }
    p.finalize();
    await out;
  } catch (err) {
    p.destroy(err as Error);
    await out.catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await commitFile(tmp, path);
}
