// `reckon inspect --verify`: every tensor read back through Schema.swift's checked reader, and which of
// them a checksum vouches for; the lines it prints, not the command (reckon/InspectCommand.swift).

import ReckonModel

/// What `reckon inspect --verify` checked, so it can say exactly that: every tensor read
/// back (the model's, and the optimizer's moments when stored) and found finite, and which
/// of them a Fletcher-32 checksum vouches for. A dataset stored contiguous has no checksum;
/// a flipped bit in it can only be caught when it makes a value non-finite.
public struct CheckpointVerification: Sendable {
    /// Every tensor dataset read, e.g. /model/wq, /optimizer/m/wq.
    public var datasets: [String]
    /// The ones read through a matching Fletcher-32 checksum.
    public var checksummed: [String]
    /// The ones stored without a checksum.
    public var unchecksummed: [String] { datasets.filter { !Set(checksummed).contains($0) } }
    /// Float values read and found finite.
    public var values: Int
    public var optimizerRead: Bool
    /// The /train group's recipe and stage text matched its text_checksum.
    public var trainTextChecked: Bool

    /// Reads every tensor of the checkpoint at `path`; throws on the first problem (a
    /// checksum mismatch, a non-finite value, a schema error).
    public static func run(path: String) throws(CheckpointError) -> CheckpointVerification {
        let file = try HDF5File.open(path)
        let reader = Schema.Reader(file: file)
        try reader.checkFormat()
        let config = try reader.config()
        try reader.checkTokenizer(config)
        let layout = ParameterLayout(config)
        var groups = ["/model"]
        let params = try reader.tensors(in: "/model", layout: layout, readData: true)
        var values = params.count
        let hasOptimizer = file.exists("/optimizer")
        if hasOptimizer {
            let opt = try reader.optimizer(layout: layout, readMoments: true)
            values += opt.moments.count
            groups += ["/optimizer/m", "/optimizer/v"]
        }
        let train = try reader.trainingState()
        var datasets: [String] = [], checksummed: [String] = []
        for g in groups {
            for t in layout.tensors {
                let name = "\(g)/\(t.name)"
                datasets.append(name)
                if try file.hasChecksum(name) { checksummed.append(name) }
            }
        }
        try file.close()
        return CheckpointVerification(datasets: datasets, checksummed: checksummed, values: values,
                                      optimizerRead: hasOptimizer, trainTextChecked: train != nil)
    }

    /// The lines `inspect --verify` prints.
    public var report: [String] {
        var lines = ["verified    \(datasets.count) tensors read back (\(values) values), every value finite"
                     + (optimizerRead ? "; optimizer moments included" : "; no optimizer stored")]
        let unchecked = unchecksummed
        if unchecked.isEmpty {
            lines.append("checksums   all \(datasets.count) tensors matched their Fletcher-32 checksum")
        } else {
            lines.append("checksums   \(checksummed.count) of \(datasets.count) tensors matched their Fletcher-32 checksum; "
                         + "\(unchecked.count) stored without one (contiguous), so bit flips in them are not detected: "
                         + unchecked.joined(separator: ", "))
        }
        lines.append(trainTextChecked ? "train text  stage and recipe matched text_checksum" : "train text  none stored")
        return lines
    }
}
