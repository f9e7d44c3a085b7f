import Foundation
import XCTest
import ReckonCheckpoint

/// Runs the built `reckon` binary on tiny recipes.
final class PhaseTests: XCTestCase {
    let cli = CLI()
    var reckon: URL { cli.reckon }
    func run(_ args: [String], in dir: URL) throws -> (status: Int32, output: String) { try cli.run(args, in: dir) }

    /// A tiny recipe: `data` and `sft` are the lines of those sections.
    func recipe(data: [String], sft: [String], out: String, extra: String = "") -> String {
        (["stages = \"data,sft\"", "[model]", "dim = 16", "layers = 1", "heads = 2", "hidden = 32", "context = 96",
          "[data]", "train_n = 40", "dialects = \"symbolic\"", "eval_n = 4"] + data
         + ["[sft]", "batch = 2", "warmup = 1", "eval_every = 0", "save_every = 0"] + sft
         + ["[output]", "dir = \"\(out)\""]).joined(separator: "\n") + "\n" + extra
    }

    /// A two-phase recipe ends with the weights of two separate runs, the second started from
    /// the first's model.h5 with the phase's settings: the phase chain is what the shipped
    /// warm-up checkpoints were made by.
    func testTwoPhasesEqualTwoChainedRuns() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: reckon.path), "the test target builds reckon; not found at \(reckon.path)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-phase-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let data1 = ["seed = 1", "levels = \"1\""], sft1 = ["steps = 4", "seed = 1"]
        let data2 = ["seed = 7", "levels = \"1,2\""]
        let sft2 = ["steps = 3", "lr = 5e-4", "loss_norm = \"sequence\"", "control_weight = 0.2", "seed = 2"]
        let recipes = [
            "phased": recipe(data: data1, sft: sft1, out: "phased",
                             extra: (["[[phase]]"] + data2.map { "data." + $0 } + sft2.map { "sft." + $0 }).joined(separator: "\n") + "\n"),
            "first": recipe(data: data1, sft: sft1, out: "first"),
            "second": recipe(data: data2, sft: sft2 + ["init = \"first/model.h5\""], out: "second"),
        ]
        for (name, text) in recipes { try text.write(to: dir.appendingPathComponent("\(name).toml"), atomically: true, encoding: .utf8) }
        for name in ["phased", "first", "second"] {
            let r = try run(["train", "\(name).toml", "--threads", "1"], in: dir)
            XCTAssertEqual(r.status, 0, "\(name): \(r.output)")
            if name == "phased" { XCTAssertTrue(r.output.contains("sft: phase 2 of 2"), r.output) }
        }
        let a = try Checkpoint.load(from: dir.appendingPathComponent("phased/model.h5").path)
        let b = try Checkpoint.load(from: dir.appendingPathComponent("second/model.h5").path)
        let first = try Checkpoint.load(from: dir.appendingPathComponent("first/model.h5").path)
        XCTAssertEqual(a.params, b.params, "phase 2 must equal a run started from phase 1's model.h5")
        XCTAssertNotEqual(a.params, first.params, "phase 2 trained")
        XCTAssertEqual(a.train?.stage, "sft-2")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("phased/train-phase2.jsonl").path))
    }

    /// SIGUSR1 (what `mpirun` forwards) during the second phase stops it after a step with a
    /// checkpoint and exit 130: each stage used to install its own signal sources, and the ones
    /// installed after the first stage's never fired.
    func testStopSignalInALaterPhaseSavesAndExits() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: reckon.path), "the test target builds reckon; not found at \(reckon.path)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-phase-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = recipe(data: ["seed = 1"], sft: ["steps = 2", "seed = 1"], out: "r",
                          extra: "[[phase]]\nsft.steps = 1000000\n")
        try text.write(to: dir.appendingPathComponent("r.toml"), atomically: true, encoding: .utf8)
        let logURL = dir.appendingPathComponent("log.txt")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        defer { try? log.close() }
        let p = Process()
        p.executableURL = reckon
        p.arguments = ["train", "r.toml", "--threads", "1"]
        p.currentDirectoryURL = dir
        p.standardOutput = log
        p.standardError = log
        try p.run()
        func output() -> String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
        // Wait until phase 2 has taken a few steps, then ask it to stop.
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning, Date() < deadline, !output().contains("sft 2 ") { Thread.sleep(forTimeInterval: 0.2) }
        XCTAssertTrue(p.isRunning, "phase 2 should still be running: \(output())")
        kill(p.processIdentifier, SIGUSR1)
        let stopBy = Date().addingTimeInterval(60)
        while p.isRunning, Date() < stopBy { Thread.sleep(forTimeInterval: 0.2) }
        if p.isRunning { p.terminate(); p.waitUntilExit(); XCTFail("SIGUSR1 did not stop phase 2: \(output())"); return }
        XCTAssertEqual(p.terminationStatus, 130, output())
        XCTAssertTrue(output().contains("sft 2: interrupted at step"), output())
        let saved = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("r/phase2/checkpoints").path)
        XCTAssertEqual(saved.count, 1, "one checkpoint of the stopped step: \(saved)")
    }

    func testBadPhaseOverrideIsAnErrorNotACrash() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: reckon.path), "the test target builds reckon; not found at \(reckon.path)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-phase-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try recipe(data: [], sft: ["steps = 2"], out: "r").write(to: dir.appendingPathComponent("r.toml"), atomically: true, encoding: .utf8)
        let r = try run(["train", "r.toml", "--set", "phase.2.sft.steps=3"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("error: --set: phase.2.sft.steps: the recipe has phases 2...1 after [sft] (it has none)"), r.output)
    }
}
