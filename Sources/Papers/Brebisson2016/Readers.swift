/// de Brébisson & Vincent 2016's readers: how the question looks back into the encoded story.
///
/// - `softmax`: attention weights softmax(H q) over the story states, read = sum_t a_t h_t (O(T d) per query).
/// - `linear`: read = C q / T with C = sum_t h_t h_t^T, a d x d matrix per story (O(d^2) per query, whatever T).
/// - `gatedLinear`: as `linear` with each state scaled by a gate sigma(w . h_t + b) before the sum (w = 0, b = 1
///   at the start, as in the authors' code).
/// - `none`: the final story state, no look back.
public enum ClozeReader: String, CaseIterable, Codable, Sendable {
    case softmax
    case linear
    case gatedLinear = "gated-linear"
    case none

    public var label: String {
        switch self {
        case .softmax: return "softmax attention"
        case .linear: return "linear attention"
        case .gatedLinear: return "gated linear attention"
        case .none: return "no attention"
        }
    }
}
