import Engine
import NN
import Runs
import CharLM
import PaperAlRfou2018
import PaperFastWeights2016
import Foundation
import XCTest

final class PlotTests: XCTestCase {
    override func setUpWithError() throws {
        if Gnuplot.executable == nil { throw XCTSkip("gnuplot not installed") }
    }

    private let lines = LinePlot(
        title: "loss", xLabel: "step", yLabel: "nats", logY: true,
        series: [PlotSeries(name: "softmax", x: [1, 2, 3, 4], y: [4, 3, 2.5, 2.2]),
                 PlotSeries(name: "linear \"elu+1\"", x: [1, 2, 3, 4], y: [4, 3.2, 2.7, 2.3])])

    func testLinePlotWritesValidPNGAndSVG() throws {
        let dir = try makeTempDir()
        try Gnuplot.draw(lines, to: dir + "/l.png")
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/l.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertGreaterThan(png.count, 5_000)
        try Gnuplot.draw(lines, to: dir + "/l.svg")
        let svg = try String(contentsOfFile: dir + "/l.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("<svg"))
        XCTAssertTrue(svg.contains("softmax"))
        XCTAssertTrue(svg.contains("</svg>"))
    }

    func testGroupedBarsWithErrorBars() throws {
        let dir = try makeTempDir()
        let chart = BarChart(title: "Table 1", yLabel: "test error (%)", categories: ["R=20", "R=50", "R=100"],
                             seriesNames: ["IRNN", "LSTM", "fast weights"],
                             values: [[62, 60, 0], [60, 0.5, 0], [1.8, 0, 0]],
                             errors: [[1, 2, 0], [1, 0.2, 0], [0.3, 0, 0]])
        try Gnuplot.draw(chart, to: dir + "/bars.svg")
        let svg = try String(contentsOfFile: dir + "/bars.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("fast weights") && svg.contains("R=100"))
        try Gnuplot.draw(chart, to: dir + "/bars.png")
        XCTAssertGreaterThan(try Data(contentsOf: URL(fileURLWithPath: dir + "/bars.png")).count, 5_000)
        if Gnuplot.terminals.contains("pdfcairo") {
            try Gnuplot.draw(chart, to: dir + "/bars.pdf")
            XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/bars.pdf")).prefix(4)), Array("%PDF".utf8))
        }
    }

    func testGnuplotErrorsSurfaceAndLeaveNoFile() throws {
        let dir = try makeTempDir()
        let empty = LinePlot(title: "t", xLabel: "x", yLabel: "y", series: [PlotSeries(name: "e", x: [], y: [])])
        XCTAssertThrowsError(try Gnuplot.draw(empty, to: dir + "/e.png"))
        // Log axis over non-positive values: gnuplot itself refuses.
        let bad = LinePlot(title: "t", xLabel: "x", yLabel: "y", logY: true,
                           series: [PlotSeries(name: "neg", x: [1, 2], y: [-1, -2])])
        XCTAssertThrowsError(try Gnuplot.draw(bad, to: dir + "/bad.png")) { error in
            XCTAssertTrue("\(error)".contains("gnuplot"), "\(error)")
        }
        XCTAssertThrowsError(try Gnuplot.draw(lines, to: dir + "/x.bmp"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}
