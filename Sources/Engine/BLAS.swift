import CRuntime
import Foundation

/// A missing or unusable BLAS library, in one line.
public struct BLASError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// OpenBLAS, loaded on first use with the best kernels the CPU supports (see openblas_loader.h).
public enum BLAS {
    private static let loaded: Result<Void, BLASError> = {
        if rb_blas_load() == 0 {
            rb_blas_set_threads(1)  // the engine parallelises products itself (Engine.setThreads)
            if let warning = coreTypeWarning(requested: String(cString: rb_blas_requested_coretype()), used: String(cString: rb_blas_corename())) {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
            return .success(())
        }
        return .failure(BLASError(String(cString: rb_blas_error())))
    }()

    /// The warning, printed once when the library loads, for an OPENBLAS_CORETYPE that OpenBLAS did not take
    /// (a name it does not know, or kernels this CPU cannot run: it then silently picks its own); nil when the
    /// kernels in use are the ones asked for, or none were.
    static func coreTypeWarning(requested: String, used: String) -> String? {
        guard !requested.isEmpty, requested.caseInsensitiveCompare(used) != .orderedSame else { return nil }
        return "OPENBLAS_CORETYPE=\(requested) was not taken by OpenBLAS (a name it does not know, or kernels this CPU cannot run); "
            + "it runs its \(used) kernels"
    }

    /// Loads the library; throws a one-line error when it is missing.
    public static func ensureLoaded() throws { try loaded.get() }

    static func require() {
        if case .failure(let e) = loaded {
            FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            exit(1)
        }
    }

    /// The kernel family OpenBLAS runs (`openblas_get_corename`), e.g. "SkylakeX".
    public static var coreName: String { require(); return String(cString: rb_blas_corename()) }
    /// OpenBLAS's build description (`openblas_get_config`), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ...".
    public static var config: String { require(); return String(cString: rb_blas_config()).trimmingCharacters(in: .whitespaces) }
    /// The core type this process chose from the CPU's features, or nil when the user's OPENBLAS_CORETYPE stood.
    public static var chosenCoreType: String? {
        require()
        let s = String(cString: rb_blas_chosen_coretype())
        return s.isEmpty ? nil : s
    }
    public static var threads: Int {
        get { require(); return Int(rb_blas_get_threads()) }
        set { require(); rb_blas_set_threads(Int32(newValue)) }
    }

    /// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is M x K, op(B) is K x N, C is M x N.
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        rb_sgemm(
            Int32(transA ? RB_TRANS : RB_NO_TRANS), Int32(transB ? RB_TRANS : RB_NO_TRANS), Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        rb_dgemm(
            Int32(transA ? RB_TRANS : RB_NO_TRANS), Int32(transB ? RB_TRANS : RB_NO_TRANS), Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
