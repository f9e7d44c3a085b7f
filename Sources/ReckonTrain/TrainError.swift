// The one error type of ReckonTrain: configuration, data, shapes, numerics and the files a
// stage writes. Recipe text errors are `RecipeError`, raised before any of this runs.

public enum TrainError: Error, Equatable, CustomStringConvertible {
    case shapeMismatch(String)
    case nonFiniteGradient
    case invalidSchedule(String)
    case invalidConfig(String)
    case invalidRollout(String)
    /// No example fits the context with both of its answers.
    case noData
    /// A file the stage writes (the metrics log) cannot be created or written.
    case io(path: String, reason: String)
    /// An MPI collective of a data-parallel run failed (GradientReducer.swift).
    case collective(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let why): "shape mismatch: \(why)"
        case .nonFiniteGradient: "the gradient norm is not finite (NaN or Inf); lower the learning rate"
        case .invalidSchedule(let why): "invalid learning-rate schedule: \(why)"
        case .invalidConfig(let why): "invalid training config: \(why)"
        case .invalidRollout(let why): "invalid rollout: \(why)"
        case .noData: "the SFT data set has no usable examples (each needs a long answer and must fit the context)"
        case let .io(path, reason): "\(path): \(reason)"
        case .collective(let why): "data-parallel training: \(why)"
        }
    }
}
