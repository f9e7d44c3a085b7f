import Foundation
import XCTest
import ReckonCheckpoint

/// `mpirun -n 2 reckon train` against one `reckon train --shards 2` with the same global batch:
/// the two ranks split every batch (SFT) and every group (DeGRPO) into the same two shards the
/// one process computes in turn, sum them with MPI_Allreduce, and must end with the one
/// process's weights bit for bit.
final class DataParallelTests: XCTestCase {
    let cli = CLI()

    /// Open MPI's launcher; the package links Open MPI, so CI installs it (.ci/run).
    func mpirun() throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/usr/local/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/mpirun") {
            return "\(dir)/mpirun"
        }
        XCTFail("mpirun not found: install openmpi-bin")
        throw XCTSkip("no mpirun")
    }

    /// Runs `reckon ARGS` on `ranks` processes under mpirun (one thread each).
    func runRanks(_ ranks: Int, _ args: [String], in dir: URL) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try mpirun())
        p.arguments = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-n", String(ranks), cli.reckon.path] + args
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_btl"] = "self,vader"  // one machine: shared memory, no network probing
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func params(_ dir: URL, _ file: String) throws -> [Float] {
        try Checkpoint.load(from: dir.appendingPathComponent(file).path).params
    }

    func metricsLines(_ dir: URL, _ file: String) throws -> [String] {
        try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// Warm-up SFT: 2 ranks × 2 prompts against 1 process × 2 shards of 2 prompts, 4 steps;
    /// then a 2-rank run's step-2 checkpoint resumed by one process ends where the 2-rank run did.
    func testTwoRanksTrainSFTLikeOneProcess() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: cli.reckon.path), "the test target builds reckon; not found at \(cli.reckon.path)")
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let recipe = ["stages = \"data,sft\"", "[model]", "dim = 16", "layers = 1", "heads = 2", "hidden = 32", "context = 96",
                      "[data]", "train_n = 40", "dialects = \"symbolic\"", "levels = \"1,2\"", "eval_n = 4", "seed = 1",
                      "[sft]", "batch = 4", "steps = 4", "lr = 3e-3", "warmup = 1", "eval_every = 0", "save_every = 2",
                      "keep_last = 4", "seed = 1", "[output]", "dir = \"one\""].joined(separator: "\n") + "\n"
        try recipe.write(to: dir.appendingPathComponent("r.toml"), atomically: true, encoding: .utf8)

        let one = try cli.run(["train", "r.toml", "--threads", "1", "--shards", "2"], in: dir)
        XCTAssertEqual(one.status, 0, one.output)
        let two = try runRanks(2, ["train", "r.toml", "--threads", "1", "--set", "output.dir=two"], in: dir)
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertTrue(two.output.contains("train: 2 ranks (MPI)"), two.output)

        let a = try params(dir, "one/model.h5"), b = try params(dir, "two/model.h5")
        let start = try params(dir, "one/checkpoints/step-000002.h5")
        XCTAssertNotEqual(a, start, "steps 3 and 4 trained")
        XCTAssertEqual(a, b, "2 ranks must train like 1 process with the same shards, bit for bit")
        XCTAssertEqual(try params(dir, "two/checkpoints/step-000002.h5"), start)
        // Rank 0 alone logs: one record per step, with the allreduce time.
        let lines = try metricsLines(dir, "two/metrics.jsonl")
        XCTAssertEqual(lines.count, 4, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.allSatisfy { $0.contains("\"allreduce_s\":") }, lines.joined(separator: "\n"))

        // Resume with another N: the checkpoint holds no per-rank state.
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("resumed/checkpoints"), withIntermediateDirectories: true)
        try fm.copyItem(at: dir.appendingPathComponent("two/checkpoints/step-000002.h5"),
                        to: dir.appendingPathComponent("resumed/checkpoints/step-000002.h5"))
        let resumed = try cli.run(["train", "r.toml", "--threads", "1", "--shards", "2", "--set", "output.dir=resumed",
                                   "--resume", "resumed/checkpoints/step-000002.h5"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let c = try params(dir, "resumed/model.h5")
        XCTAssertEqual(b, c, "a 2-rank checkpoint resumed by 1 process")
    }

    /// DeGRPO on the shipped warm-up model: each rank samples half of every group (from the
    /// stream of its shard) and back-propagates it; the rollouts are gathered for the group
    /// advantages. The one process samples and back-propagates the same two shards in turn.
    func testTwoRanksTrainDeGRPOLikeOneProcess() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: cli.reckon.path), "the test target builds reckon; not found at \(cli.reckon.path)")
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let warmup = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("checkpoints/warmup-small.h5").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: warmup), warmup)
        let recipe = """
            stages = "data,degrpo"
            [data]
            train_n = 20
            dialects = "symbolic"
            levels = "1,2"
            eval_n = 4
            seed = 1
            [degrpo]
            init = "\(warmup)"
            steps = 2
            prompts_per_step = 2
            group_size = 4
            max_response_tokens = 8
            lr = 1e-3
            warmup = 1
            eval_every = 0
            save_every = 0
            seed = 3
            [output]
            dir = "one"

            """
        try recipe.write(to: dir.appendingPathComponent("r.toml"), atomically: true, encoding: .utf8)
        let one = try cli.run(["train", "r.toml", "--threads", "1", "--shards", "2"], in: dir)
        XCTAssertEqual(one.status, 0, one.output)
        let two = try runRanks(2, ["train", "r.toml", "--threads", "1", "--set", "output.dir=two"], in: dir)
        XCTAssertEqual(two.status, 0, two.output)

        let a = try params(dir, "one/model.h5"), b = try params(dir, "two/model.h5")
        let start = try Checkpoint.load(from: warmup).params
        XCTAssertNotEqual(a, start, "the steps trained")
        XCTAssertEqual(a, b, "2 ranks must train like 1 process with the same shards, bit for bit")
        // Both runs logged the same rollouts (rewards, think rates of the whole groups) and gradients; rank 0 alone wrote.
        let la = try metricsLines(dir, "one/metrics-degrpo.jsonl"), lb = try metricsLines(dir, "two/metrics-degrpo.jsonl")
        XCTAssertEqual(la.count, 2)
        XCTAssertEqual(lb.count, 2)
        for (x, y) in zip(la, lb) {
            for key in ["\"reward\":", "\"think_rate\":", "\"accuracy\":", "\"completions/mean_length\":", "\"grad_norm\":"] {
                XCTAssertEqual(Self.field(x, key), Self.field(y, key), key)
            }
        }
    }

    /// The value text after `key` in a metrics line.
    static func field(_ line: String, _ key: String) -> String? {
        guard let r = line.range(of: key) else { return nil }
        return String(line[r.upperBound...].prefix { $0 != "," && $0 != "}" })
    }
}
