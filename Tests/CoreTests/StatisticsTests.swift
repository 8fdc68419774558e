import Runs
import XCTest

final class StatisticsTests: XCTestCase {
    func testMedianOfOddAndEvenCounts() {
        XCTAssertEqual(median([3, 1, 2]), 2)
        XCTAssertEqual(median([4, 1, 3, 2]), 2.5, "an even count: the mean of the middle two, not the upper one")
        XCTAssertEqual(median([7]), 7)
    }
}
