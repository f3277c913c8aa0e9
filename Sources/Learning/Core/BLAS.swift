#if canImport(Accelerate)
  import Accelerate
#else
  import CBLAS
#endif

/// Row-major single-precision matrix products, the one place the engine calls BLAS.
public enum BLAS {
  /// C = alpha * op(A) * op(B) + beta * C, all row-major; op(X) is X or its transpose.
  /// op(A) is m x k, op(B) is k x n, C is m x n.
  @inline(__always)
  public static func gemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    // Every product on one thread: OpenBLAS's threaded kernels split the sums by the thread
    // count, so a model's bytes would depend on it (and on what ran first in the process).
    useSingleThread()
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
      transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// y = alpha * op(A) * x + beta * y for a row-major m x n matrix A.
  public static func gemv(
    transpose: Bool = false, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>,
    lda: Int, x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
  ) {
    useSingleThread()
    cblas_sgemv(
      CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a,
      Int32(lda), x, 1, beta, y, 1)
  }

  /// Restricts BLAS to one thread: the engine parallelises across the batch itself, which is
  /// faster and steadier than OpenBLAS's own threading at these matrix sizes.
  public static func useSingleThread() { _ = singleThreaded }

  /// The kernel family OpenBLAS picked for this CPU (its products' rounding differs between
  /// families, so a model's bytes are pinned per family).
  public static var coreName: String {
    #if canImport(Accelerate)
      "accelerate"
    #else
      String(cString: openblas_get_corename())
    #endif
  }

  private static let singleThreaded: Void = {
    #if !canImport(Accelerate)
      openblas_set_num_threads(1)
    #endif
  }()
}
