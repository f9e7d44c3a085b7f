import ReckonModel

/// The one place a loaded checkpoint's text interface is built: the byte tokenizer for the
/// small models, the stored BPE tokenizer and chat template for an imported one. Generate,
/// serve, eval and training all take their tokenizer from here.
extension Checkpoint {
    /// The model's tokenizer, template and token roles; `templateOverride` replaces the chat
    /// template the checkpoint stores (`--chat-template`).
    public func text(templateOverride: ChatTemplateKind? = nil, path: String = "checkpoint") throws(CheckpointError) -> ModelText {
        guard let spec = tokenizer else { return .bytes(templateOverride: templateOverride) }
        do throws(TokenizerError) {
            let text = try ModelText(bpe: spec, templateOverride: templateOverride)
            guard text.tokenizer.vocabSize == config.vocabSize else {
                throw .invalidSpec("\(text.tokenizer.vocabSize) tokens for a model with \(config.vocabSize) embedding rows")
            }
            return text
        } catch {
            throw .tokenizerMismatch(path: path, reason: "\(error)")
        }
    }
}
