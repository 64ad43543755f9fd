// Finds the platform's BLAS and binds cblas_sgemm through koffi: OpenBLAS, BLIS or the
// reference CBLAS by soname on Linux, Accelerate (or Homebrew's OpenBLAS) on macOS, OpenBLAS or
// MKL on Windows. ADAPT_LAB_BLAS_LIBRARY names one library to use instead of searching.
import { basename } from 'node:path';
import { loadKoffi } from './ffi';

/** Row-major sgemm: C = alpha·op(A)·op(B) + beta·C, operands as float32 views (no copy). */
export type Sgemm = (
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
) => void;

export interface Blas {
  /** e.g. "OpenBLAS 0.3.21", "BLIS 0.9.0", "Accelerate". */
  name: string;
  /** The file that was loaded (a soname or a path). */
  library: string;
  sgemm: Sgemm;
  /** Threads the library uses for one product on the calling thread (undefined: not known). */
  threads(): number | undefined;
  /** Sets them for the calling thread; false where the library offers no way to. */
  setThreads(n: number): boolean;
}

export const LIBRARY_ENV = 'ADAPT_LAB_BLAS_LIBRARY';

/** Libraries to try, most wanted first. */
export function candidateLibraries(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string[] {
  if (env[LIBRARY_ENV]) return [env[LIBRARY_ENV]!];
  if (platform === 'darwin') {
    return [
      '/System/Library/Frameworks/Accelerate.framework/Accelerate',
      '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
      '/usr/local/opt/openblas/lib/libopenblas.dylib',
    ];
  }
  if (platform === 'win32') return ['libopenblas.dll', 'openblas.dll', 'mkl_rt.2.dll', 'mkl_rt.dll'];
  // Debian/Ubuntu, Fedora, Arch, conda: OpenBLAS first, then BLIS, then whatever provides
  // libblas.so.3 (Debian's alternatives point it at OpenBLAS or BLIS when installed).
  return ['libopenblas.so.0', 'libopenblas.so', 'libopenblasp.so.0', 'libblis.so.4', 'libblis.so.3', 'libmkl_rt.so.2', 'libmkl_rt.so', 'libcblas.so.3', 'libblas.so.3'];
}

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/* eslint-disable @typescript-eslint/no-explicit-any */
type Lib = { func(decl: string): (...args: any[]) => any };

function optional(lib: Lib, decl: string): ((...args: any[]) => any) | undefined {
  try {
    return lib.func(decl);
  } catch {
    return undefined; // the symbol is not in this library
  }
}

function bind(lib: Lib, library: string): Blas {
  let raw: (...args: any[]) => void;
  try {
    raw = lib.func('void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int)');
  } catch {
    throw new Error(`${library} has no cblas_sgemm (a BLAS without the CBLAS interface)`);
  }
  const sgemm: Sgemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
    raw(ROW_MAJOR, tA ? TRANS : NO_TRANS, tB ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

  const openblasConfig = optional(lib, 'const char *openblas_get_config()');
  const openblasSet = optional(lib, 'void openblas_set_num_threads(int)');
  const openblasGet = optional(lib, 'int openblas_get_num_threads()');
  const blisVersion = optional(lib, 'const char *bli_info_get_version_str()');
  const blisSet = optional(lib, 'void bli_thread_set_num_threads(int64_t)');
  const blisGet = optional(lib, 'int64_t bli_thread_get_num_threads()');
  const mklSet = optional(lib, 'void MKL_Set_Num_Threads(int)');
  const mklGet = optional(lib, 'int MKL_Get_Max_Threads()');

  let name: string;
  if (openblasConfig) {
    // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY USE_OPENMP Haswell MAX_THREADS=64"
    const m = /OpenBLAS\s+([\w.]+)/.exec(String(openblasConfig()));
    name = m ? `OpenBLAS ${m[1]}` : 'OpenBLAS';
  } else if (blisVersion) name = `BLIS ${String(blisVersion())}`;
  else if (mklSet) name = 'MKL';
  else if (/Accelerate/.test(library)) name = 'Accelerate';
  else name = basename(library);

  const setThreads = openblasSet ?? mklSet ?? (blisSet ? (n: number) => blisSet(n) : undefined);
  const getThreads = openblasGet ?? mklGet ?? (blisGet ? () => Number(blisGet()) : undefined);
  return {
    name,
    library,
    sgemm,
    threads: () => (getThreads ? Number(getThreads()) : undefined),
    setThreads: (n) => {
      if (!setThreads) return false;
      setThreads(n);
      return true;
    },
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The first library that loads and has cblas_sgemm; the error lists why each one did not. */
export function loadBlas(candidates: string[] = candidateLibraries()): Blas {
  let koffi;
  try {
    koffi = loadKoffi();
  } catch (e) {
    throw new Error(`the FFI package koffi did not load: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
  // OpenMP builds of OpenBLAS spin-wait between products by default: on a busy machine (or
  // beside our own worker threads) the spinning threads starve the ones doing the work, and
  // 2-thread products ran 10-100x slower here (load 30 on 2 cores). Passive waiting costs a
  // little wake-up latency instead. libgomp reads this when it is loaded, so it is set before.
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';
  const why: string[] = [];
  for (const library of candidates) {
    try {
      return bind(koffi.load(library) as unknown as Lib, library);
    } catch (e) {
      why.push(`${library}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
  }
  throw new Error(`no BLAS library found (${why.join('; ')})`);
}
