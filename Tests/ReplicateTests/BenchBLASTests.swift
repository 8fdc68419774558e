import Engine
import NN
import Runs
import Foundation
import XCTest

final class BenchBLASTests: XCTestCase {
    /// `bench blas` replays the step on every library it finds and compares each with OpenBLAS.
    func testBenchBLASComparesTheLibrariesFound() throws {
        let r = try Subprocess.run(try replicateBinary(), ["bench", "blas", "--rounds", "1", "--top", "3"])
        XCTAssertEqual(r.status, 0, r.errorText)
        let out = r.outputText
        XCTAssertTrue(out.contains("one step: "), out)
        let rows = out.split(separator: "\n").filter { $0.hasPrefix("| OpenBLAS ") || $0.hasPrefix("| BLIS ") || $0.hasPrefix("| Intel(R) oneAPI") }
        XCTAssertTrue(rows.contains { $0.hasPrefix("| OpenBLAS ") && $0.hasSuffix("| 1.00x |") }, out)
        if FileManager.default.fileExists(atPath: "/opt/replicate-mkl/lib/libmkl_rt.so.3") {
            XCTAssertTrue(rows.contains { $0.hasPrefix("| Intel(R) oneAPI") }, out)
        }
        XCTAssertTrue(out.contains("fastest here: "), out)
    }
}
