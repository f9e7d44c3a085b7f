import XCTest
import ReckonCore
@testable import ReckonModel

final class TokenizerTests: XCTestCase {
    let tok = Tokenizer()

    func testRoundTripAndSpecials() throws {
        let text = "y'all done got 47 apple — ñ"
        let ids = tok.encode(text)
        XCTAssertEqual(ids.count, text.utf8.count)
        XCTAssertEqual(try tok.decode(ids), text)
        XCTAssertEqual(tok.encode("<think>1+2</think>3<eos>", parseSpecials: true),
                       [Tokenizer.think, 49, 43, 50, Tokenizer.endThink, 51, Tokenizer.eos])
        XCTAssertEqual(tok.encode("<think>").count, 7, "user text cannot inject a control token")
        XCTAssertEqual(try tok.decode([Tokenizer.short, 52, Tokenizer.eos]), "<short>4<eos>")
        XCTAssertEqual(Tokenizer.vocabSize, 262)
    }

    func testOutOfRangeIdsAreErrors() {
        XCTAssertThrowsError(try tok.decode([65, 262])) { XCTAssertEqual($0 as? ModelError, .tokenOutOfRange(id: 262, vocabSize: 262)) }
        XCTAssertThrowsError(try tok.decode([-1])) { XCTAssertEqual($0 as? ModelError, .tokenOutOfRange(id: -1, vocabSize: 262)) }
        XCTAssertThrowsError(try tok.name(of: 300))
        XCTAssertEqual(try tok.name(of: Tokenizer.think), "<think>")
    }
}

final class SamplerTests: XCTestCase {
    let logits: ArraySlice<Float> = [0.1, 2.0, -1.0, 1.5, 0.0][...]

    func testGreedyTopKAndTopP() throws {
        var rng = RNG(seed: 1)
        XCTAssertEqual(try Sampler.sample(logits, params: .greedy, rng: &rng), 1)
        XCTAssertEqual(try Sampler.sample(logits, params: .greedy, allowed: [0, 3], rng: &rng), 3)
        for _ in 0..<50 {
            XCTAssertEqual(try Sampler.sample(logits, params: SamplingParams(temperature: 1, topK: 1), rng: &rng), 1)
            XCTAssertEqual(try Sampler.sample(logits, params: SamplingParams(temperature: 1, topP: 0.01), rng: &rng), 1)
            let t = try Sampler.sample(logits, params: SamplingParams(temperature: 1, topK: 2), rng: &rng)
            XCTAssert(t == 1 || t == 3)
            XCTAssert([0, 2].contains(try Sampler.sample(logits, params: SamplingParams(temperature: 2), allowed: [0, 2], rng: &rng)))
        }
    }

    /// Sampled frequencies follow the softmax, and a seed fixes the sequence.
    func testSamplingMatchesSoftmaxAndIsSeeded() throws {
        var rng = RNG(seed: 2)
        var counts = [0, 0, 0, 0, 0]
        for _ in 0..<20000 { counts[Int(try Sampler.sample(logits, params: SamplingParams(), rng: &rng))] += 1 }
        let p = try Sampler.probabilities(logits, over: [0, 1, 2, 3, 4])
        for i in 0..<5 { XCTAssertEqual(Double(counts[i]) / 20000, Double(p[i]), accuracy: 0.015) }
        var a = RNG(seed: 9), b = RNG(seed: 9)
        let sa = try (0..<30).map { _ in try Sampler.sample(logits, params: SamplingParams(temperature: 0.7, topP: 0.9), rng: &a) }
        let sb = try (0..<30).map { _ in try Sampler.sample(logits, params: SamplingParams(temperature: 0.7, topP: 0.9), rng: &b) }
        XCTAssertEqual(sa, sb)
    }

    func testRestrictedProbabilities() throws {
        let p = try Sampler.probabilities(logits, over: [3, 1])
        XCTAssertEqual(p[0], 1 / (1 + expf(0.5)), accuracy: 1e-6)
        XCTAssertEqual(p[0] + p[1], 1, accuracy: 1e-6)
        XCTAssertThrowsError(try Sampler.probabilities(logits, over: [])) { XCTAssertEqual($0 as? SamplingError, .emptyAllowedSet) }
        var rng = RNG(seed: 1)
        XCTAssertThrowsError(try Sampler.sample(logits, params: .greedy, allowed: [9], rng: &rng)) {
            XCTAssertEqual($0 as? SamplingError, .tokenOutOfRange(9))
        }
        XCTAssertThrowsError(try SamplingParams(temperature: -1).validate())
        XCTAssertThrowsError(try SamplingParams(topP: 0).validate())
    }

    /// Excluded ids are never drawn, greedy or sampled; excluding every id is an error.
    func testExcludedTokensAreNeverDrawn() throws {
        let logits: ArraySlice<Float> = [0, 5, 1, 4][...]
        var rng = RNG(seed: 2)
        XCTAssertEqual(try Sampler.sample(logits, params: .greedy, excluding: [1], rng: &rng), 3)
        for _ in 0..<500 {
            XCTAssertFalse([1, 3].contains(try Sampler.sample(logits, params: SamplingParams(temperature: 2), excluding: [1, 3], rng: &rng)))
        }
        XCTAssertThrowsError(try Sampler.sample(logits, params: .greedy, excluding: [0, 1, 2, 3], rng: &rng)) {
            XCTAssertEqual($0 as? SamplingError, .emptyAllowedSet)
        }
    }
}
