/// Which prompt phrasings a generated set may use. The last template of every dialect's sum
/// and product lists (Templates.swift) is held out of training, so a test set written only
/// in those phrasings measures generalisation beyond the phrasings a model was trained on.
public enum Phrasings: String, Sendable, CaseIterable {
    /// Every template (the default; files generated before this option are unchanged).
    case all
    /// Every template but the held-out one of each list: for training sets.
    case train
    /// Only the held-out template of each list: for a test set of unseen phrasings.
    case heldOut = "held-out"

    /// The templates of one list this choice allows.
    func allowed<T>(_ templates: [T]) -> ArraySlice<T> {
        switch self {
        case .all: templates[...]
        case .train: templates.count > 1 ? templates.dropLast() : templates[...]
        case .heldOut: templates.suffix(1)
        }
    }
}
