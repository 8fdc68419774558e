/// The median of a benchmark's repeated measurements (the mean of the middle two for an even count).
public func median(_ v: [Double]) -> Double {
    precondition(!v.isEmpty, "median of no measurements")
    let s = v.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
