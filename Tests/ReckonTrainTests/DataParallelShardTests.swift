import XCTest
@testable import ReckonTrain
import ReckonModel

/// The pieces of data-parallel training that need no second process: how work is cut into
/// shards, the in-order shard sum, and the rollouts' bytes between ranks.
final class DataParallelShardTests: XCTestCase {
    func testShardsTileTheBatchInOrder() {
        XCTAssertEqual((0..<3).map { Shards.part($0, of: 3, count: 8) }, [0..<2, 2..<5, 5..<8])
        XCTAssertEqual((0..<2).map { Shards.part($0, of: 2, count: 4) }, [0..<2, 2..<4])
        XCTAssertEqual(SingleProcess().share(of: 5), 0..<5)
    }

    func testShardSumAddsInOrder() {
        var sum = Shards.Sum()
        XCTAssertNil(sum.total)
        sum.add([1, 2, 0.5])
        sum.add([0.25, -2, 1e-8])
        XCTAssertEqual(sum.total, [1.25, 0, 0.5 + 1e-8])
    }

    func testRolloutBytesRoundTrip() throws {
        var a = Rollout(prompt: 3, response: [Tokenizer.think, 65, -1, Int32.max], outcome: RolloutOutcome(mode: .think, correct: false, malformed: true),
                        reward: -0.75, advantage: 0, truncated: true)
        a.pThink = 0.3125
        a.controlImportance = 0.625
        let b = Rollout(prompt: 0, response: [], outcome: RolloutOutcome(mode: .short, correct: true), reward: 1, advantage: 0, truncated: false)
        XCTAssertEqual(try RolloutWire.decode(RolloutWire.encode([a, b])), [a, b])
        XCTAssertThrowsError(try RolloutWire.decode(Array(RolloutWire.encode([a]).dropLast())))
    }
}
