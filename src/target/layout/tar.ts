import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { OciError, type Descriptor } from '../../oci/index.ts';
import type { Target } from '../target.ts';
import { LayoutTarget } from './dir.ts';

// Entries a layout tar may hold; anything else (or any '..') is refused rather than written.
const ENTRY_RE = /^(?:oci-layout|index\.json|blobs\/[a-z0-9]+\/[a-f0-9]{32,128})$/;

/**
 * An OCI image layout in a `.tar` file. It is unpacked once into a private temp directory
 * (streamed entry by entry, never held in memory) and used as a directory layout; when anything
 * was written, close() packs it back into the tar through a temp file and a rename, so the tar
 * is replaced whole or not at all. A temp copy costs disk, but gives the tar the same atomic,
 * verified semantics as a directory with one implementation.
 */
export class TarLayoutTarget implements Target {
  readonly name: string;
  readonly writable = true;
  private dirty = false;

  private constructor(
    readonly path: string,
    private readonly inner: LayoutTarget,
    private readonly work: string,
  ) {
    this.name = `oci:${path}`;
  }

  static async open(path: string, options: { create?: boolean } = {}): Promise<TarLayoutTarget> {
    const work = await mkdtemp(join(tmpdir(), 'signet-tar-'));
    let exists = false;
    try {
      exists = (await stat(path)).isFile();
    } catch {
      exists = false;
    }
    try {
      if (exists) await extract(path, work);
      else if (!options.create) throw new OciError('NOT_FOUND', `oci:${path}: no such file`);
      const inner = await LayoutTarget.open(work, { create: options.create || !exists });
      const t = new TarLayoutTarget(path, inner, work);
      if (!exists) t.dirty = true;
      return t;
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      throw err;
    }
  }

  resolve(reference: string): Promise<Descriptor> {
    return this.inner.resolve(reference);
  }
  readIndex(): ReturnType<LayoutTarget['readIndex']> {
    return this.inner.readIndex();
  }
  fetchByDigest(digest: string, maxSize: number): Promise<Uint8Array> {
    return this.inner.fetchByDigest(digest, maxSize);
  }
  exists(desc: Descriptor): Promise<boolean> {
    return this.inner.exists(desc);
  }
  fetch(desc: Descriptor): Promise<Readable> {
    return this.inner.fetch(desc);
  }
  referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    return this.inner.referrers(subject, artifactType);
  }
  tags(): Promise<string[]> {
    return this.inner.tags();
  }
  async push(desc: Descriptor, content: Readable | Uint8Array): Promise<void> {
    this.dirty = true;
    await this.inner.push(desc, content);
  }
  async tag(desc: Descriptor, tag: string): Promise<void> {
    this.dirty = true;
    await this.inner.tag(desc, tag);
  }
  async delete(desc: Descriptor): Promise<void> {
    this.dirty = true;
    await this.inner.delete(desc);
  }

  async close(): Promise<void> {
    try {
      await this.inner.close();
      if (this.dirty) await pack(this.work, this.path);
      this.dirty = false;
    } finally {
      await rm(this.work, { recursive: true, force: true });
    }
  }
}

async function extract(path: string, dir: string): Promise<void> {
  const ex = tarStream.extract();
  ex.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '');
    if (header.type === 'directory' || name === '' || name.endsWith('/')) {
      stream.resume();
      stream.on('end', next);
      return;
    }
    if (header.type !== 'file' || !ENTRY_RE.test(name)) {
      // Unknown entries (docker-archive manifest.json ...) are skipped; links and odd names never land on disk.
      stream.resume();
      stream.on('end', next);
      return;
    }
    const target = join(dir, name);
    mkdir(dirname(target), { recursive: true })
      .then(() => pipeline(stream, createWriteStream(target)))
      .then(() => next(), next);
  });
  await pipeline(createReadStream(path), ex);
}

async function pack(dir: string, path: string): Promise<void> {
  const p = tarStream.pack();
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const out = pipeline(p, createWriteStream(tmp));
  const add = async (name: string): Promise<void> => {
    const full = join(dir, name);
    const st = await stat(full);
    await new Promise<void>((resolve, reject) => {
      const entry = p.entry({ name, size: st.size, mode: 0o644, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()));
      createReadStream(full).on('error', reject).pipe(entry);
    });
  };
  try {
    // oci-layout and index.json first, so a streaming reader knows what it is reading early.
    await add('oci-layout');
    await add('index.json');
    for (const alg of (await readdir(join(dir, 'blobs'))).sort()) {
      for (const hex of (await readdir(join(dir, 'blobs', alg))).sort()) {
        if (!hex.includes('.tmp-')) await add(`blobs/${alg}/${hex}`);
      }
    }
    p.finalize();
    await out;
    await rename(tmp, path);
  } catch (err) {
    p.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}
