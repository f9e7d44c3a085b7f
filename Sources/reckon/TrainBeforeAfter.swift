// `[eval] before_after`: the eval stage's routings run on the degrpo stage's starting model, for the
// before/after table (ReckonEval/BeforeAfterTable.swift).

import Foundation
import ReckonData
import ReckonEval
import ReckonModel
import ReckonTrain

/// `[eval] before_after`: the eval stage's routings on the model the degrpo stage starts
/// from, run before training, then printed beside the trained model's figures.
extension TrainCommand {
    func evalBefore(_ r: Recipe, warmup: TrainableModel?, eval: [Example]) throws -> [EvalReport] {
        let start = try degrpoReference(r, warmup: warmup)
        note("eval: the model before DeGRPO (\(r.degrpo.initFrom.isEmpty ? "this run's warm-up" : r.degrpo.initFrom))")
        return try evalEachRouting(r, model: start, eval: eval, heading: "before DeGRPO: ", file: "eval-before")
    }

    func printBeforeAfter(before: [EvalReport], after: [EvalReport]) {
        for (b, a) in zip(before, after) {
            print(EvalTable.beforeAfter(before: b, after: a))
            print("")
        }
    }
}
