import Foundation
import XCTest
import ReckonCheckpoint

/// `reckon train --resume` continues a DeGRPO stage exactly where the checkpoint left it.
final class DeGRPOResumeTests: XCTestCase {
    /// A run resumed from its step-2 checkpoint ends with the weights of the uninterrupted run:
    /// the checkpoint carries the optimizer's moments, the step and the trainer's RNG, so the
    /// resumed run draws the same prompts and rollouts.
    func testResumedRunEqualsTheUninterruptedOne() throws {
        let cli = CLI()
        XCTAssertTrue(FileManager.default.fileExists(atPath: cli.reckon.path), "the test target builds reckon; not found at \(cli.reckon.path)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // The shipped warm-up answers these prompts, so groups mix rewards and every step moves the weights.
        let warmup = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("checkpoints/warmup-small.h5").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: warmup), warmup)
        let text = """
            stages = "data,degrpo"
            [data]
            train_n = 20
            dialects = "symbolic"
            levels = "1"
            eval_n = 4
            seed = 1
            [degrpo]
            init = "\(warmup)"
            steps = 4
            prompts_per_step = 2
            group_size = 4
            max_response_tokens = 8
            lr = 1e-3
            warmup = 1
            eval_every = 0
            save_every = 2
            keep_last = 4
            seed = 3
            [output]
            dir = "whole"

            """
        try text.write(to: dir.appendingPathComponent("r.toml"), atomically: true, encoding: .utf8)
        let whole = try cli.run(["train", "r.toml", "--threads", "1"], in: dir)
        XCTAssertEqual(whole.status, 0, whole.output)
        // What a run stopped after step 2 leaves behind.
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("resumed/checkpoints-degrpo"), withIntermediateDirectories: true)
        for file in ["checkpoints-degrpo/step-000002.h5"] {
            try fm.copyItem(at: dir.appendingPathComponent("whole/\(file)"), to: dir.appendingPathComponent("resumed/\(file)"))
        }
        let resumed = try cli.run(["train", "r.toml", "--threads", "1", "--set", "output.dir=resumed",
                                   "--resume", "resumed/checkpoints-degrpo/step-000002.h5"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resumed degrpo from resumed/checkpoints-degrpo/step-000002.h5 at step 2"), resumed.output)

        let a = try Checkpoint.load(from: dir.appendingPathComponent("whole/model.h5").path)
        let b = try Checkpoint.load(from: dir.appendingPathComponent("resumed/model.h5").path)
        let mid = try Checkpoint.load(from: dir.appendingPathComponent("whole/checkpoints-degrpo/step-000002.h5").path)
        XCTAssertEqual(b.train?.step, 4)
        XCTAssertNotEqual(a.params, mid.params, "steps 3 and 4 trained")
        XCTAssertEqual(a.params, b.params, "the resumed run must end bit-exact with the uninterrupted one")
    }
}
