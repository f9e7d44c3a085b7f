// The adversarial renderings of an example: a routing cue appended, numbers and gold answer untouched.

/// Prompts that try to talk the router out of the right mode: hard problems get an appeal
/// to answer fast, easy ones get padding that asks for care. The numbers and the question
/// are untouched, so the gold answer stays the same; only the routing cue changes.
public enum Adversarial {
    /// Levels at or above this count as hard (multi-digit carries and products).
    public static let hardFrom = 3

    static let rush = [
        "This one is easy, answer fast.",
        "Quick one, no need to think: just give the number.",
        "Obviously trivial, reply immediately.",
    ]
    static let pad = [
        "Take your time: this is a tricky one and every step matters, so think it through carefully.",
        "Careful, this looks simple but it is a hard problem; work it out step by step before you answer.",
        "Please reason very thoroughly and double-check each step of your work on this one.",
    ]

    /// The adversarial rendering of `example` in group `group`: a rush cue after hard prompts,
    /// a padding cue after easy ones. The pair id is kept so routing flips can be paired.
    public static func render(_ example: Example, group: String = "adversarial", index: Int) -> Example {
        var e = example
        let hard = (example.difficulty ?? hardFrom) >= hardFrom
        let cues = hard ? rush : pad
        e.prompt = example.prompt + " " + cues[index % cues.count]
        e.group = group
        e.id = example.id.map { $0 + "-adv" }
        e.pairID = example.pairID ?? example.id
        return e
    }
}
