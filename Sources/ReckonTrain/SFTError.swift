/// What can stop warm-up SFT before its first step.
public enum SFTError: Error, Equatable, CustomStringConvertible {
    /// No example fits the context with both of its answers.
    case noData
    case io(path: String, reason: String)
    /// A checkpoint that cannot continue this run.
    case cannotResume(String)

    public var description: String {
        switch self {
        case .noData: "the SFT data set has no usable examples (each needs a long answer and must fit the context)"
        case let .io(path, reason): "\(path): \(reason)"
        case let .cannotResume(why): "cannot resume: \(why)"
        }
    }
}
