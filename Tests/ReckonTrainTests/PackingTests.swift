import XCTest
import ReckonModel
@testable import ReckonTrain

/// The one padding rule: the next multiple of the bucket, capped at the context.
final class PackingTests: XCTestCase {
    func testLengthRoundsUpToTheBucketAndCapsAtTheContext() {
        XCTAssertEqual(PackedBatch.length(longest: 13, bucket: 8, context: 256), 16)
        XCTAssertEqual(PackedBatch.length(longest: 16, bucket: 8, context: 256), 16, "a multiple of the bucket is not padded further")
        XCTAssertEqual(PackedBatch.length(longest: 17, bucket: 32, context: 256), 32)
        XCTAssertEqual(PackedBatch.length(longest: 250, bucket: 32, context: 256), 256, "capped at the context")
        XCTAssertEqual(PackedBatch.length(longest: 0, bucket: 8, context: 256), 8)
    }

    func testPackedRowsByHand() {
        let a = TrainingSequence(prompt: [1, 2], answer: [7, 8, 9])   // 4 rows: inputs 1 2 7 8
        let b = TrainingSequence(prompt: [3], answer: [5])            // 1 row: input 3
        let packed = PackedBatch([a, b], length: 4, batch: 3)
        let pad = Tokenizer.pad
        XCTAssertEqual(packed.inputs, [1, 2, 7, 8, 3, pad, pad, pad, pad, pad, pad, pad])
        XCTAssertEqual(packed.targets, [-1, 7, 8, 9, 5, -1, -1, -1, -1, -1, -1, -1])
    }
}
