import CRuntime
import Dispatch
import Foundation

/// Thread settings for the engine's own (non-BLAS) kernels.
///
/// Work is split into contiguous ranges and each output element is computed by exactly one thread with a fixed
/// order of operations, so results are bit-identical for any thread count; reductions across the split
/// dimension are done in a fixed order after the parallel part.
public enum Engine {
    nonisolated(unsafe) public static var threads: Int = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 2))

    /// Sets the engine's thread count. The BLAS (oneMKL or OpenBLAS) always runs single-threaded: the engine
    /// splits large products over its own threads (see gemmAccumulate), so BLAS worker threads never spin against
    /// the engine's kernels.
    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        BLAS.threads = 1
    }

    /// In a data-parallel job of `count` processes, this process's `index`: a dropout mask drawn here is this
    /// process's rows of the mask one process would draw for the whole batch (the tensor's leading rows being
    /// the batch's rows, this process's slice of them the index-th of `count` equal ones). nil: one process.
    nonisolated(unsafe) public static var dropoutShard: (index: Int, count: Int)?

    /// Overrides whether attention keeps its strips of scores for backward (nil: `attentionKeepsScores` decides);
    /// `bench engine --without keep-scores` times the engine with them recomputed.
    nonisolated(unsafe) public static var attentionScoresKept: Bool?

    /// The threads the code on the calling thread may use: `threads`, or a job's share of them while it runs beside
    /// other jobs (`ParallelJobs`), so that the ops inside a job do not split again over every thread.
    public static var availableThreads: Int {
        let budget = Int(rb_thread_budget())
        return budget > 0 ? min(budget, threads) : threads
    }
}

/// Runs `body` on this thread with `threads` of the engine's threads available to it, restoring this thread's own
/// share afterwards.
@inline(__always)
func withThreadBudget<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
    let previous = rb_thread_budget()
    rb_set_thread_budget(Int32(threads))
    defer { rb_set_thread_budget(previous) }
    return try body()
}

/// Runs `body` over `0..<n` split into at most `Engine.availableThreads` contiguous ranges, when the work is large
/// enough.
@inline(__always)
public func parallelFor(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let workers = min(Engine.availableThreads, max(1, n / max(grain, 1)))
    if workers <= 1 || n < 2 {
        body(0..<n)
        return
    }
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = n * w / workers, hi = n * (w + 1) / workers
        if lo < hi { withThreadBudget(1) { body(lo..<hi) } }
    }
}

/// Independent jobs (e.g. attention heads) spread over the threads available here, never more (each worker claims
/// the next job until none is left); each job writes disjoint memory, so results do not depend on the schedule.
/// Each job runs with its share of the threads (one when there are at least as many jobs as threads), so the
/// products inside it are not split again.
public enum ParallelJobs {
    public static func perform(_ jobs: Int, _ body: (Int) -> Void) {
        let available = Engine.availableThreads, workers = min(available, jobs)
        let share = max(1, available / max(jobs, 1))
        if workers <= 1 {
            withThreadBudget(share) { for j in 0..<jobs { body(j) } }
            return
        }
        let next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        next.initialize(to: 0)
        defer { next.deallocate() }
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            withThreadBudget(share) {
                while case let j = rb_claim_next(next), j < jobs { body(j) }
            }
        }
    }
}
