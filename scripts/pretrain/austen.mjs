// The pretraining corpus: Jane Austen's six completed novels, as shipped by Debian's
// `r-cran-janeaustenr` (Julia Silge's janeaustenr 1.0.0, MIT; the novels are in the public
// domain). The package keeps each novel as an R character vector (one line of the Project
// Gutenberg text per element) in R's lazy-load database (data/Rdata.rdb + Rdata.rdx). This
// file reads that database without R: zlib-compressed entries holding R's XDR serialization.
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';

export const DEBIAN_PACKAGE = 'r-cran-janeaustenr';
const INSTALLED = '/usr/lib/R/site-library/janeaustenr';
/** The six novels in the package's order, with their titles. */
export const NOVELS = [
  ['sensesensibility', 'Sense and Sensibility'],
  ['prideprejudice', 'Pride and Prejudice'],
  ['mansfieldpark', 'Mansfield Park'],
  ['emma', 'Emma'],
  ['northangerabbey', 'Northanger Abbey'],
  ['persuasion', 'Persuasion'],
];

// ------------------------------------------------------------------ R serialization (XDR)

class RReader {
  constructor(buf) {
    this.b = buf;
    this.o = 0;
    this.refs = [];
  }
  int() {
    const v = this.b.readInt32BE(this.o);
    this.o += 4;
    return v;
  }
  header() {
    const magic = this.b.toString('latin1', 0, 2);
    if (magic !== 'X\n') throw new Error(`not an XDR R serialization (magic ${JSON.stringify(magic)})`);
    this.o = 2;
    const version = this.int();
    this.int(); // R version that wrote it
    this.int(); // minimal R version to read it
    if (version === 3) { const n = this.int(); this.o += n; } // native encoding name
    return this;
  }
  length() {
    const n = this.int();
    if (n !== -1) return n;
    const hi = this.int();
    const lo = this.int();
    return hi * 2 ** 32 + lo;
  }
  item() {
    const flags = this.int();
    const type = flags & 0xff;
    const hasAttr = (flags & (1 << 9)) !== 0;
    const hasTag = (flags & (1 << 10)) !== 0;
    switch (type) {
      case 254: return null; // NILVALUE
      case 242: case 241: case 253: case 252: case 251: case 247: return { special: type };
      case 255: { // REFSXP
        let i = flags >> 8;
        if (i === 0) i = this.int();
        return this.refs[i - 1];
      }
      case 1: { // SYMSXP
        const sym = { symbol: this.item() };
        this.refs.push(sym);
        return sym;
      }
      case 9: { // CHARSXP
        const n = this.int();
        if (n === -1) return null;
        const s = this.b.toString('utf8', this.o, this.o + n);
        this.o += n;
        return s;
      }
      case 2: case 6: case 3: case 5: case 17: case 239: case 240: { // pairlists, closures, ...
        const node = {};
        if (hasAttr) node.attr = this.item();
        if (hasTag) node.tag = this.item();
        node.car = this.item();
        node.cdr = this.item();
        return node;
      }
      case 16: case 19: case 20: { // STRSXP, VECSXP, EXPRSXP
        const n = this.length();
        const v = [];
        for (let i = 0; i < n; i++) v.push(this.item());
        if (hasAttr) v.attr = this.item();
        return v;
      }
      case 10: case 13: { // LGLSXP, INTSXP
        const n = this.length();
        const v = [];
        for (let i = 0; i < n; i++) v.push(this.int());
        if (hasAttr) v.attr = this.item();
        return v;
      }
      case 14: { // REALSXP
        const n = this.length();
        const v = [];
        for (let i = 0; i < n; i++) { v.push(this.b.readDoubleBE(this.o)); this.o += 8; }
        if (hasAttr) v.attr = this.item();
        return v;
      }
      default:
        throw new Error(`R serialization: SEXP type ${type} is not supported by this reader`);
    }
  }
}

/** The value of attribute `name` on an R object read above. */
function attr(obj, name) {
  for (let p = obj?.attr; p; p = p.cdr) if (p.tag?.symbol === name) return p.car;
  return undefined;
}

/** Every variable of an R lazy-load database (`<dir>/Rdata`): name → R value. */
export function readLazyLoadDb(base) {
  const index = new RReader(gunzipSync(readFileSync(`${base}.rdx`))).header().item();
  const names = attr(index, 'names');
  const variables = index[names.indexOf('variables')];
  const compressed = index[names.indexOf('compressed')];
  if (!(compressed[0] === 1 || compressed[0] === true)) throw new Error(`${base}.rdx: only zlib-compressed databases are supported`);
  const db = readFileSync(`${base}.rdb`);
  const out = new Map();
  const varNames = attr(variables, 'names');
  variables.forEach((pos, i) => {
    const [offset, len] = pos;
    const raw = db.subarray(offset, offset + len);
    const size = raw.readUInt32BE(0);
    const body = inflateSync(raw.subarray(4));
    if (body.length !== size) throw new Error(`${base}.rdb: entry ${varNames[i]} inflates to ${body.length} bytes, expected ${size}`);
    out.set(varNames[i], new RReader(body).header().item());
  });
  return out;
}

// ------------------------------------------------------------------ getting the package

/**
 * The janeaustenr folder: the installed package if present, otherwise the Debian package
 * downloaded (`apt-get download`, no dependencies needed) and unpacked into cacheDir.
 */
export function janeaustenrDir(cacheDir, log = () => {}) {
  if (existsSync(join(INSTALLED, 'data', 'Rdata.rdb'))) return { dir: INSTALLED, source: `installed Debian package ${DEBIAN_PACKAGE}` };
  const unpacked = join(cacheDir, 'deb');
  const dir = join(unpacked, INSTALLED);
  if (!existsSync(join(dir, 'data', 'Rdata.rdb'))) {
    mkdirSync(cacheDir, { recursive: true });
    log(`downloading the Debian package ${DEBIAN_PACKAGE} (apt-get download; run "apt-get update" first if this fails)`);
    try {
      execFileSync('apt-get', ['download', DEBIAN_PACKAGE], { cwd: cacheDir, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (e) {
      throw new Error(`cannot get ${DEBIAN_PACKAGE}: "apt-get download ${DEBIAN_PACKAGE}" failed (${e.message.split('\n')[0]}). `
        + `Install it ("apt-get update && apt-get install ${DEBIAN_PACKAGE}") or run "apt-get update" and try again.`);
    }
    const deb = readdirSync(cacheDir).find((f) => f.startsWith(`${DEBIAN_PACKAGE}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download left no ${DEBIAN_PACKAGE} .deb in ${cacheDir}`);
    execFileSync('dpkg-deb', ['-x', join(cacheDir, deb), unpacked]);
  }
  return { dir, source: `Debian package ${DEBIAN_PACKAGE} (downloaded)` };
}

// ------------------------------------------------------------------ cleaning

/** Gutenberg-style lines of one novel → chapters, each a list of paragraphs (plain text). */
export function chaptersOf(lines) {
  const chapters = [];
  let cur = null;
  let para = [];
  const flush = () => {
    if (para.length && cur) {
      let p = para.join(' ').replace(/\s+/g, ' ').trim();
      p = p.replace(/_/g, '') // _italics_
        .replace(/[\u2018\u2019]/g, "'").replace(/[\u201c\u201d]/g, '"')
        .replace(/--/g, ' -- ').replace(/ {2,}/g, ' ').trim();
      // Drop section marks ("***") and editorial notes ("[At this point ... Volume 1 ends.]").
      if (p && !/^[*\s]+$/.test(p) && !/^\[.*\]$/.test(p)) cur.push(p);
    }
    para = [];
  };
  for (const raw of lines) {
    const line = (raw ?? '').trim();
    if (/^(chapter|volume)\b/i.test(line) && line.length < 40) {
      flush();
      if (/^chapter/i.test(line)) { cur = []; chapters.push(cur); }
      continue;
    }
    if (!line) { flush(); continue; }
    if (/^(THE END|FINIS)\b/.test(line)) { flush(); continue; }
    para.push(line);
  }
  flush();
  return chapters.filter((c) => c.length > 0);
}

/**
 * Reads the novels; returns every chapter as { novel, index, text } in a fixed order, and the
 * SHA-256 of the database file (recorded in the model card).
 */
export function readAusten(cacheDir, log) {
  const { dir, source } = janeaustenrDir(cacheDir, log);
  const base = join(dir, 'data', 'Rdata');
  const sha256 = createHash('sha256').update(readFileSync(`${base}.rdb`)).digest('hex');
  const vars = readLazyLoadDb(base);
  const version = (/^Version:\s*(\S+)/m.exec(readFileSync(join(dir, 'DESCRIPTION'), 'utf8')) ?? [])[1];
  const chapters = [];
  for (const [key, title] of NOVELS) {
    const lines = vars.get(key);
    if (!Array.isArray(lines)) throw new Error(`${base}: variable ${key} is missing or not a character vector`);
    chaptersOf(lines).forEach((paras, i) => chapters.push({ novel: title, index: i + 1, text: paras.join('\n') }));
  }
  return { chapters, sha256, source, version, dir };
}
