// A run's rotating `step-NNNNNN.h5` files: naming, listing, the newest, save then prune; the file itself
// is Checkpoint.swift's and Schema.swift's.

import Foundation

/// The checkpoints of one run: `DIR/step-000100.h5`, `DIR/step-000200.h5`, ...; only the
/// newest `keep` are kept. Pruning runs after a successful save, so at least one complete
/// checkpoint always exists once the first save has succeeded.
public struct CheckpointRotation: Sendable {
    public let directory: String
    public let keep: Int

    public init(directory: String, keep: Int) throws(CheckpointError) {
        guard keep >= 1 else { throw .invalidRotation(reason: "keep must be ≥ 1, got \(keep)") }
        self.directory = directory
        self.keep = keep
    }

    /// `step-NNNNNN.h5`; six digits sort correctly up to a million steps and widen after.
    public func path(forStep step: Int) -> String {
        let digits = String(step)
        return (directory as NSString).appendingPathComponent("step-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits).h5")
    }

    /// Step of a rotation file name, or nil for anything else (temporaries, other files).
    static func step(ofFile name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".h5") else { return nil }
        let digits = name.dropFirst(5).dropLast(3)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// The run's checkpoints, oldest first.
    public func checkpoints() throws(CheckpointError) -> [(step: Int, path: String)] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw .io(path: directory, operation: "list checkpoints", message: error.localizedDescription)
        }
        return names.compactMap { name in
            Self.step(ofFile: name).map { ($0, (directory as NSString).appendingPathComponent(name)) }
        }.sorted { $0.step < $1.step }
    }

    /// The newest checkpoint, for resuming.
    public func latest() throws(CheckpointError) -> String? {
        try checkpoints().last?.path
    }

    /// Saves `checkpoint` as step `step` (creating the folder if needed), then prunes.
    @discardableResult
    public func save(_ checkpoint: Checkpoint, step: Int) throws(CheckpointError) -> String {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .io(path: directory, operation: "create the checkpoint folder", message: error.localizedDescription)
        }
        let path = path(forStep: step)
        try checkpoint.save(to: path)
        try prune()
        return path
    }

    /// Deletes all but the newest `keep` checkpoints, and temporaries left by dead
    /// processes (a crash mid-save); returns the deleted paths.
    @discardableResult
    public func prune() throws(CheckpointError) -> [String] {
        var doomed = try checkpoints().dropLast(keep).map(\.path)
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in names where name.hasPrefix(".step-") {
                guard let pid = name.split(separator: "-").last.flatMap({ Int32($0) }), pid != getpid(),
                      kill(pid, 0) != 0, errno == ESRCH else { continue }
                doomed.append((directory as NSString).appendingPathComponent(name))
            }
        }
        for path in doomed {
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw .io(path: path, operation: "delete an old checkpoint", message: error.localizedDescription)
            }
        }
        return doomed
    }
}
