// Named float tensors from a foreign checkpoint: the protocol and its GGUF and safetensors-folder conformances.

import Foundation

/// Named float tensors from a foreign checkpoint, in row-major (outermost-first) shapes.
/// Two implementations: a GGUF file and a Hugging Face safetensors folder.
protocol WeightSource {
    var path: String { get }
    var names: [String] { get }
    func shape(of name: String) -> [Int]?
    func floats(_ name: String) throws(ImportError) -> [Float]
}

extension GGUFFile: WeightSource {
    var names: [String] { tensors.map(\.name) }
    func shape(of name: String) -> [Int]? { tensor(named: name)?.shape }
    func floats(_ name: String) throws(ImportError) -> [Float] {
        guard let t = tensor(named: name) else { throw .missingTensor(path: path, tensor: name) }
        return floats(t)
    }
}

/// `model.safetensors`, or the shards listed in `model.safetensors.index.json`'s weight_map.
struct SafetensorsFolder: WeightSource {
    let path: String
    let files: [SafetensorsFile]
    let owner: [String: Int]   // tensor name → index in files

    init(folder: String) throws(ImportError) {
        let single = (folder as NSString).appendingPathComponent("model.safetensors")
        let index = (folder as NSString).appendingPathComponent("model.safetensors.index.json")
        path = folder
        var shardNames: [String]
        if FileManager.default.fileExists(atPath: single) {
            shardNames = ["model.safetensors"]
        } else if FileManager.default.fileExists(atPath: index) {
            guard let data = FileManager.default.contents(atPath: index),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String] else {
                throw .malformed(path: index, reason: "no weight_map object")
            }
            shardNames = Array(Set(map.values)).sorted()
            guard shardNames.allSatisfy({ !$0.contains("/") && !$0.hasPrefix(".") }) else {
                throw .malformed(path: index, reason: "weight_map names a file outside the folder")
            }
        } else {
            throw .fileNotFound(path: single + " (nor model.safetensors.index.json)")
        }
        var files: [SafetensorsFile] = []
        var owner: [String: Int] = [:]
        for name in shardNames {
            let f = try SafetensorsFile(path: (folder as NSString).appendingPathComponent(name))
            for t in f.tensors.keys {
                guard owner[t] == nil else { throw .malformed(path: f.path, reason: "tensor \(t) is also in \(files[owner[t]!].path)") }
                owner[t] = files.count
            }
            files.append(f)
        }
        self.files = files
        self.owner = owner
    }

    var names: [String] { owner.keys.sorted() }
    var filePaths: [String] { files.map(\.path) }
    func shape(of name: String) -> [Int]? { owner[name].flatMap { files[$0].tensors[name]?.shape } }
    func floats(_ name: String) throws(ImportError) -> [Float] {
        guard let i = owner[name], let t = files[i].tensors[name] else { throw .missingTensor(path: path, tensor: name) }
        return files[i].floats(t)
    }
}
