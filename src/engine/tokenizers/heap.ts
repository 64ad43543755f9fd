// A binary min-heap of (k1, k2) keyed entries with three int payloads, stored in typed arrays.
// Used by both merge loops: SPM (k1 = -score) and BPE (k1 = rank); k2 = left symbol index, so
// ties go to the leftmost pair.
export class PairHeap {
  private k1: Float64Array;
  private k2: Int32Array;
  private p1: Int32Array;
  private p2: Int32Array;
  private p3: Int32Array;
  size = 0;

  constructor(capacity = 64) {
    this.k1 = new Float64Array(capacity);
    this.k2 = new Int32Array(capacity);
    this.p1 = new Int32Array(capacity);
    this.p2 = new Int32Array(capacity);
    this.p3 = new Int32Array(capacity);
  }

  private grow(): void {
    const n = this.k1.length * 2;
    const k1 = new Float64Array(n); k1.set(this.k1); this.k1 = k1;
    const k2 = new Int32Array(n); k2.set(this.k2); this.k2 = k2;
    const p1 = new Int32Array(n); p1.set(this.p1); this.p1 = p1;
    const p2 = new Int32Array(n); p2.set(this.p2); this.p2 = p2;
    const p3 = new Int32Array(n); p3.set(this.p3); this.p3 = p3;
  }

  push(k1: number, k2: number, p1: number, p2: number, p3 = 0): void {
    if (this.size === this.k1.length) this.grow();
    const a1 = this.k1, a2 = this.k2, b1 = this.p1, b2 = this.p2, b3 = this.p3;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk1 = a1[parent];
      if (pk1 < k1 || (pk1 === k1 && a2[parent] <= k2)) break;
      a1[i] = pk1; a2[i] = a2[parent]; b1[i] = b1[parent]; b2[i] = b2[parent]; b3[i] = b3[parent];
      i = parent;
    }
    a1[i] = k1; a2[i] = k2; b1[i] = p1; b2[i] = p2; b3[i] = p3;
  }

  /** Top entry (valid while size > 0); call pop() to remove it. */
  topK1(): number { return this.k1[0]; }
  topK2(): number { return this.k2[0]; }
  topP1(): number { return this.p1[0]; }
  topP2(): number { return this.p2[0]; }
  topP3(): number { return this.p3[0]; }

  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const a1 = this.k1, a2 = this.k2, b1 = this.p1, b2 = this.p2, b3 = this.p3;
    const k1 = a1[n], k2 = a2[n], p1 = b1[n], p2 = b2[n], p3 = b3[n];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (a1[r] < a1[c] || (a1[r] === a1[c] && a2[r] < a2[c]))) c = r;
      if (k1 < a1[c] || (k1 === a1[c] && k2 <= a2[c])) break;
      a1[i] = a1[c]; a2[i] = a2[c]; b1[i] = b1[c]; b2[i] = b2[c]; b3[i] = b3[c];
      i = c;
    }
    a1[i] = k1; a2[i] = k2; b1[i] = p1; b2[i] = p2; b3[i] = p3;
  }
}
