import CRuntime
import Foundation

/// A missing or unusable BLAS library, in one line.
public struct BLASError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The BLAS, loaded on first use: oneMKL when present (setup.sh installs it), else OpenBLAS with the best
/// kernels the CPU supports; REPLICATE_BLAS=mkl|openblas chooses (see blas_loader.h).
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

    /// "oneMKL" or "OpenBLAS".
    public static var vendor: String { require(); return String(cString: rb_blas_vendor()) }
    /// The file that was loaded.
    public static var libraryPath: String { require(); return String(cString: rb_blas_library_path()) }
    /// Where oneMKL is looked for first (REPLICATE_MKL, else setup.sh's /opt/replicate-mkl), whichever library is in use.
    public static var mklPath: String { String(cString: rb_blas_mkl_path()) }
    /// The kernels in use: OpenBLAS's kernel family (`openblas_get_corename`, e.g. "SkylakeX"), or oneMKL's code
    /// path (e.g. "AVX512_E1, sequential").
    public static var coreName: String { require(); return String(cString: rb_blas_corename()) }
    /// The library's description of its build: "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." (`openblas_get_config`), or
    /// oneMKL's version string.
    public static var config: String { require(); return String(cString: rb_blas_config()).trimmingCharacters(in: .whitespaces) }
    /// One line for --version, benches and provenance: the library, its version and its kernels.
    public static var summary: String { "\(config) (kernel \(coreName))" }
    /// The OpenBLAS core type this process chose from the CPU's features, or nil when the user's OPENBLAS_CORETYPE
    /// stood or the library is not OpenBLAS.
    public static var chosenCoreType: String? {
        require()
        let s = String(cString: rb_blas_chosen_coretype())
        return s.isEmpty ? nil : s
    }
    public static var threads: Int {
        get { require(); return Int(rb_blas_get_threads()) }
        set { require(); rb_blas_set_threads(Int32(newValue)) }
    }

    /// While set, every single-precision product the engine asks for (gemmAccumulate, before any split) is counted
    /// here by shape (`replicate bench blas` replays a training step's products on each library).
    nonisolated(unsafe) public static var trace: GEMMTrace?

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

/// Another BLAS library opened beside the one in use, to compare libraries in one process (`replicate bench blas`).
public final class BLASLibrary: @unchecked Sendable {
    private let lib: OpaquePointer
    public let path: String
    public let vendor: String
    public let config: String
    public let coreName: String

    /// Opens `path`; throws a one-line error when it cannot be loaded or has no cblas_sgemm.
    public init(path: String) throws {
        var err = [CChar](repeating: 0, count: 600)
        guard let l = rb_blas_open(path, &err, err.count) else {
            throw BLASError(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        lib = l
        self.path = path
        vendor = String(cString: rb_blas_lib_vendor(l))
        config = String(cString: rb_blas_lib_config(l)).trimmingCharacters(in: .whitespaces)
        coreName = String(cString: rb_blas_lib_corename(l))
    }

    /// C = alpha * op(A) * op(B) + beta * C, row-major, on the calling thread.
    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        rb_blas_lib_sgemm(lib, Int32(transA ? RB_TRANS : RB_NO_TRANS), Int32(transB ? RB_TRANS : RB_NO_TRANS), Int32(m), Int32(n),
                          Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// The single-precision products a piece of code asked for, by shape, with how often each was asked for.
public final class GEMMTrace: @unchecked Sendable {
    public struct Call: Hashable, Sendable {
        public let transA: Bool, transB: Bool
        public let m: Int, n: Int, k: Int
        public let lda: Int, ldb: Int, ldc: Int
        /// beta = 1 (C += ...) rather than beta = 0.
        public let accumulate: Bool
        /// Run on one thread: inside a parallel region (e.g. attention's per-head products) or too small to split.
        public let single: Bool
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
        /// Every field, for a fixed order among calls of equal work.
        var orderKey: [Int] { [m, n, k, lda, ldb, ldc, transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0, single ? 1 : 0] }
    }
    private let lock = NSLock()
    private var table: [Call: Int] = [:]

    public init() {}

    func record(_ call: Call) {
        lock.lock()
        table[call, default: 0] += 1
        lock.unlock()
    }

    /// Every distinct call with its count, largest total work first (ties in a fixed order).
    public var calls: [(call: Call, count: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return table.map { ($0.key, $0.value) }.sorted {
            let (a, b) = ($0.call.flops * Double($0.count), $1.call.flops * Double($1.count))
            return a != b ? a > b : $0.call.orderKey.lexicographicallyPrecedes($1.call.orderKey)
        }
    }
}
