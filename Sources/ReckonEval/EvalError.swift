public enum EvalError: Error, Equatable, CustomStringConvertible {
    case emptyDataSet

    public var description: String {
        switch self {
        case .emptyDataSet: "the data set has no examples to evaluate"
        }
    }
}
