import Foundation
import ReckonData
import ReckonEval
import ReckonModel
import ReckonTrain

/// `[eval] before_after`: the eval stage's routings on the model the degrpo stage starts
/// from, run before training, then printed beside the trained model's figures.
extension TrainCommand {
    func evalBefore(_ r: Recipe, warmup: Transformer?, eval: [Example]) throws -> [EvalReport] {
        let start = try degrpoReference(r, warmup: warmup)
        let examples = r.eval.n > 0 ? Array(eval.prefix(r.eval.n)) : eval
        note("eval: the model before DeGRPO (\(r.degrpo.initFrom.isEmpty ? "this run's warm-up" : r.degrpo.initFrom))")
        var reports: [EvalReport] = []
        for routing in r.eval.routing {
            let spec = routing.description
            let report = try EvalCommand.evaluate(model: start, examples: examples,
                                                  dataName: r.data.eval.isEmpty ? "\(r.output.dir)/eval.jsonl" : r.data.eval,
                                                  options: EvalOptions(routing: routing, maxNewTokens: r.eval.maxTokens, seed: UInt64(r.eval.seed)),
                                                  keepRecords: false)
            print("before DeGRPO: " + EvalTable.render(report))
            print("")
            try write(String(decoding: try report.json(), as: UTF8.self) + "\n",
                      to: "\(r.output.dir)/eval-before-\(spec.replacingOccurrences(of: ":", with: "-")).json")
            reports.append(report)
        }
        return reports
    }

    func printBeforeAfter(before: [EvalReport], after: [EvalReport]) {
        for (b, a) in zip(before, after) {
            print(EvalTable.beforeAfter(before: b, after: a))
            print("")
        }
    }
}
