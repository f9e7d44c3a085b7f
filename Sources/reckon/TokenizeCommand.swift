// `reckon tokenize`: a Hugging Face tokenizer applied to text or a file, and `--bench`'s encode timing;
// the tokenizer is ReckonModel's.

import ArgumentParser
import Foundation
import ReckonModel

/// `reckon tokenize`: a Hugging Face tokenizer.json applied to text or a file, for inspecting
/// token boundaries and measuring encode speed (tools/bench_tokenizer.py drives `--bench`).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode text with a model's byte-level BPE tokenizer (tokenizer.json); print ids, or time encoding.")

    @Option(help: "A Hugging Face tokenizer.json (byte-level BPE).") var tokenizer: String
    @Option(help: "tokenizer_config.json, for BOS/EOS and the chat template.") var config: String?
    @Option(help: "Text to encode.") var text: String?
    @Option(help: "A conversation to render with the chat template and encode: a JSON file of [{\"role\", \"content\"}].")
    var messages: String?
    @Option(help: "Override the model's chat template: chatml, llama3 or none.") var chatTemplate: ChatTemplateKind?
    @Option(help: "A UTF-8 file to encode, one string per line; '-' reads standard input.") var file: String?
    @Flag(help: "Match control tokens such as <|im_start|> in the text.") var parseSpecials = false
    @Option(help: "With --file: time this many full passes and print the median tokens/s.") var bench: Int?

    func validate() throws {
        guard [text != nil, file != nil, messages != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --text, --file and --messages")
        }
        if chatTemplate != nil, messages == nil { throw ValidationError("--chat-template needs --messages") }
        if let bench, bench < 1 { throw ValidationError("--bench must be ≥ 1") }
        if bench != nil, file == nil { throw ValidationError("--bench needs --file") }
    }

    func run() throws {
        func read(_ path: String) throws -> Data {
            do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw InputError(description: "cannot read \(path): \(error.localizedDescription)")
            }
        }
        let spec: TokenizerSpec
        let tok: BPETokenizer
        do {
            spec = try TokenizerSpec.fromHuggingFace(tokenizerJSON: read(tokenizer), config: config.map(read))
            tok = try BPETokenizer(spec: spec)
        } catch let e as TokenizerError {
            throw InputError(description: "\(tokenizer): \(e)")
        }
        if let messages {
            let conversation: [ChatMessage]
            do { conversation = try JSONDecoder().decode([ChatMessage].self, from: read(messages)) } catch let e as InputError {
                throw e
            } catch {
                throw InputError(description: "\(messages): not a JSON array of {\"role\", \"content\"} objects")
            }
            let bosText = spec.bos.map { spec.tokens[Int($0)] }
            let template: ChatTemplate
            do { template = try ChatTemplate.resolve(source: spec.chatTemplate, bosText: bosText, override: chatTemplate) } catch {
                throw InputError(description: "\(config ?? tokenizer): \(error)")
            }
            // The rendering goes to standard error so standard output stays one line of ids.
            FileHandle.standardError.write(Data(template.render(conversation, addGenerationPrompt: true).utf8))
            print(template.encode(conversation, with: tok).map(String.init).joined(separator: " "))
            return
        }
        if let text {
            let ids = tok.encode(text, parseSpecials: parseSpecials)
            print(ids.map(String.init).joined(separator: " "))
            return
        }
        guard let file else { return }
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try read(file)
        guard String(data: data, encoding: .utf8) != nil else { throw InputError(description: "\(file) is not UTF-8") }
        // Split on the byte, not on Characters, where "\r\n" is one grapheme.
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard let passes = bench else {
            for line in lines { print(tok.encode(line, parseSpecials: parseSpecials).map(String.init).joined(separator: " ")) }
            return
        }
        // Each pass uses a fresh tokenizer, so its piece cache starts empty as in a cold start.
        var rates: [Double] = []
        var tokens = 0
        for _ in 0..<passes {
            let fresh = try BPETokenizer(spec: spec)
            let t0 = DispatchTime.now().uptimeNanoseconds
            tokens = 0
            for line in lines { tokens += fresh.encode(line, parseSpecials: parseSpecials).count }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            rates.append(Double(tokens) / dt)
        }
        rates.sort()
        let median = rates[rates.count / 2]
        print(String(format: "{\"tokens\": %d, \"bytes\": %d, \"passes\": %d, \"median_tokens_per_s\": %.0f}",
                     tokens, data.count, passes, median))
    }
}

/// One line on standard error, exit code 1.
private struct InputError: Error, CustomStringConvertible {
    let description: String
}
