import Foundation

/// The scalar types the engine computes in: Float for training, Double for gradient checks.
/// Kernels are generic over `Real`; public ops carry `@_specialize` for both, so the Float path runs
/// specialised code even when called from generic model code in another module.
public protocol Real: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func expm1(_ x: Self) -> Self
}

extension Float: Real {
    @inline(__always) public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    @inline(__always) public static func exp(_ x: Float) -> Float { Foundation.expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { Foundation.logf(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { Foundation.tanhf(x) }
    @inline(__always) public static func expm1(_ x: Float) -> Float { Foundation.expm1f(x) }
}

extension Double: Real {
    @inline(__always) public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inline(__always) public static func expm1(_ x: Double) -> Double { Foundation.expm1(x) }
}
