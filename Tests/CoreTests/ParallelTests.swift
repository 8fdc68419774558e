@testable import Engine
import Foundation
import NN
import XCTest

final class ParallelTests: XCTestCase {
    /// Runs `jobs` jobs that each take 2 ms: the most of them that ran at once, and the threads each one had.
    private func observe(_ jobs: Int) -> (peak: Int, shares: [Int]) {
        let lock = NSLock()
        var running = 0, peak = 0
        var shares = [Int](repeating: 0, count: jobs)
        shares.withUnsafeMutableBufferPointer { s in
            ParallelJobs.perform(jobs) { j in
                lock.lock()
                running += 1
                peak = max(peak, running)
                lock.unlock()
                s[j] = Engine.availableThreads
                usleep(2000)
                lock.lock()
                running -= 1
                lock.unlock()
            }
        }
        return (peak, shares)
    }

    func testJobsRunOnTheirShareOfTheThreadsAndNoMore() {
        let saved = Engine.threads
        defer { Engine.setThreads(saved) }
        Engine.setThreads(2)
        let many = observe(8)
        XCTAssertLessThanOrEqual(many.peak, 2)
        XCTAssertEqual(many.shares, Array(repeating: 1, count: 8), "a job beside others has one thread: its products are not split")
        XCTAssertEqual(observe(1).shares, [2], "a lone job keeps every thread")
        let nested = withThreadBudget(1) { observe(4) }
        XCTAssertEqual(nested.peak, 1, "jobs inside a job that has one thread run one at a time")
        XCTAssertEqual(nested.shares, [1, 1, 1, 1])
        XCTAssertEqual(withThreadBudget(1) { gemmPieces(m: 4096, n: 4096, k: 256, threads: Engine.availableThreads) }, 1)
        XCTAssertEqual(Engine.availableThreads, 2, "the budget is restored after the job")
        Engine.setThreads(4)
        let halves = observe(2)
        XCTAssertEqual(halves.shares, [2, 2], "two jobs on four threads have two each")
        XCTAssertLessThanOrEqual(halves.peak, 2)
        XCTAssertEqual(observe(3).shares, [1, 1, 1])
    }

    func testParameterGradientsAreClearedOverTheThreads() {
        let saved = Engine.threads
        defer { Engine.setThreads(saved) }
        Engine.setThreads(2)
        var rng = Philox(seed: 1)
        let store = ParameterStore<Float>()
        _ = store.make("w", [3001, 101], .zeros, rng: &rng)  // 303,101 values: several grains, an odd split
        _ = store.make("b", [7], .zeros, rng: &rng)
        store.finalize()
        let n = store.count
        for i in 0..<n { store.gradients[i] = Float(i % 13) + 1 }
        store.zeroGrad()
        XCTAssertEqual((0..<n).first { store.gradients[$0] != 0 }, nil, "every gradient, the last one included, is zero")
        XCTAssertEqual(store.tensors[1].grad[6], 0)
    }
}
