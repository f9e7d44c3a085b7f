// The eval module's errors: an empty data set, an unknown method, a missing validation split, mismatched records.

public enum EvalError: Error, Equatable, CustomStringConvertible {
    case emptyDataSet
    case badMethod(String)
    case needsValidation(String)
    case mismatchedRecords(String)

    public var description: String {
        switch self {
        case .emptyDataSet: "the data set has no examples to evaluate"
        case .badMethod(let m):
            "unknown method \"\(m)\" (use short, think, self-route, threshold:T, sample, best-of-N, adaptive-entropy[:MEAN_N] or adaptive-nll[:MEAN_N])"
        case .needsValidation(let m): "\(m) fits its rule on a validation split: give --validation FILE (disjoint from --data)"
        case .mismatchedRecords(let why): why
        }
    }
}
