import XCTest
@testable import ReckonTrain

final class RecipeTests: XCTestCase {
    func testEmptyRecipeHasEveryDefault() throws {
        var r = try Recipe.parse("", source: "empty.toml")
        r.text = ""
        XCTAssertEqual(r, Recipe())
        XCTAssertEqual(r.model.dim, 256)
        XCTAssertEqual(r.sft.lr, 1e-3)
        XCTAssertEqual(r.sft.batch, 16)
        XCTAssertEqual(r.eval.routing, [.think, .short, .model])
        XCTAssertEqual(r.stages, [.data, .sft, .eval])
        XCTAssertEqual(r.modelConfig.nKVHeads, 8, "kv_heads = 0 means as many as heads")
    }

    func testValuesAreReadIntoTheirSections() throws {
        let r = try Recipe.parse("""
            stages = "data,sft"
            [model]
            dim = 64
            kv_heads = 2
            tied = true
            [sft]
            lr = 1      # an integer is a number too
            min_lr = 2.5e-5
            batch = 4
            micro_batch = 2
            [data]
            dialects = "sae=0.9,aae=0.1"
            [output]
            dir = "runs/x"
            """, source: "x.toml")
        XCTAssertEqual(r.model.dim, 64)
        XCTAssertEqual(r.modelConfig.nKVHeads, 2)
        XCTAssertTrue(r.model.tied)
        XCTAssertEqual(r.sft.lr, 1.0)
        XCTAssertEqual(r.sft.minLR, 2.5e-5)
        XCTAssertEqual(r.sft.batch, 4)
        XCTAssertEqual(try SFTConfig(recipe: r.sft, prompts: 8).microBatch, 2)
        XCTAssertEqual(r.data.dialects, "sae=0.9,aae=0.1")
        XCTAssertEqual(r.output.dir, "runs/x")
        XCTAssertEqual(r.stages, [.data, .sft])
        XCTAssertEqual(r.model.layers, 4, "absent keys keep their defaults")
    }

    /// The routing keys of `[degrpo]` reach the trainer's configuration.
    func testDeGRPOKeysReachTheTrainer() throws {
        let r = try Recipe.parse("""
            [degrpo]
            control_advantage = "contrast"
            contrast_strength = 0.5
            response_term = false
            alpha = 4
            lr = 5e-5
            head_lr = 2e-3
            rollouts = "paired"
            """, source: "x.toml")
        let c = r.degrpo.config
        XCTAssertNoThrow(try c.validate())
        XCTAssertEqual(c.controlAdvantage, .contrast)
        XCTAssertEqual(c.contrastStrength, 0.5)
        XCTAssertFalse(c.responseTerm)
        XCTAssertEqual(c.trainable, .all)
        XCTAssertEqual(c.loss.alpha, 4)
        XCTAssertEqual(c.headLRScale, 40, accuracy: 1e-4)
        XCTAssertEqual(c.rollout.modes, .paired)
        let d = try Recipe.parse("[degrpo]\ntrainable = \"decision\"\n", source: "y.toml").degrpo.config
        XCTAssertEqual(d, { var e = DeGRPOConfig(); e.trainable = .decision; return e }(), "the section decodes straight into the config")
        XCTAssertTrue(d.responseTerm, "on unless the recipe says otherwise")
        XCTAssertEqual(d.headLRScale, 1, "head_lr 0 is lr")
        XCTAssertEqual(d.rollout.modes, .sampled)
        XCTAssertThrowsError(try Recipe.parse("[degrpo]\nresponse_term = \"no\"\n", source: "x.toml"))
        XCTAssertThrowsError(try Recipe.parse("[degrpo]\nrollouts = \"forced\"\n", source: "x.toml")) { error in
            XCTAssert("\(error)".contains("rollouts"), "\(error)")
        }
    }

    func testUnknownKeyErrorNamesTheKey() {
        XCTAssertThrowsError(try Recipe.parse("[sft]\nlrate = 0.1\n", source: "Recipes/x.toml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("Recipes/x.toml: unknown key [sft] lrate ([sft] keys: init, loss_norm, control_weight,"), "\(error)")
        }
        XCTAssertThrowsError(try Recipe.parse("steps = 3\n", source: "x.toml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("x.toml: unknown key steps (top-level keys: stages; sections: [model], [data]"), "\(error)")
        }
        XCTAssertThrowsError(try Recipe.parse("[optimizer]\nlr = 1\n", source: "x.toml")) { error in
            XCTAssertEqual(error as? RecipeError, .unknownSection(source: "x.toml", section: "optimizer"))
            XCTAssertTrue("\(error)".hasPrefix("x.toml: unknown section [optimizer] (known: [model], [data], [sft], [degrpo], [lora], [eval], [output])"))
        }
    }

    /// A bad enum value, a wrong type and an unknown key each fail with one line that names the
    /// key and what it accepts.
    func testEnumKeyErrorsNameTheKeyAndTheAllowedValues() {
        XCTAssertThrowsError(try Recipe.parse("[sft]\nloss_norm = \"tokens\"\n", source: "r.toml")) { error in
            XCTAssertEqual("\(error)", "r.toml: [sft] loss_norm must be one of \"token\", \"sequence\", got \"tokens\"")
        }
        XCTAssertThrowsError(try Recipe.parse("[degrpo]\naggregation = 3\n", source: "r.toml")) { error in
            XCTAssertEqual("\(error)", "r.toml: [degrpo] aggregation must be one of \"sequence-mean\", \"token-mean\" (a string), got integer")
        }
        XCTAssertThrowsError(try Recipe.parse("[degrpo]\ntrainabel = \"all\"\n", source: "r.toml")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("r.toml: unknown key [degrpo] trainabel ([degrpo] keys: init, steps,"), text)
            XCTAssertTrue(text.contains("trainable"), text)
        }
        XCTAssertThrowsError(try Recipe.parse("stages = \"data,warmup\"\n", source: "r.toml")) { error in
            XCTAssertEqual("\(error)", "r.toml: stages must be a comma list of data, sft, degrpo, eval, got \"warmup\" in \"data,warmup\"")
        }
        XCTAssertThrowsError(try Recipe.parse("[sft]\noverflow = \"wrap\"\n", source: "r.toml")) { error in
            XCTAssertEqual("\(error)", "r.toml: [sft] overflow must be one of \"reject\", \"truncate\", got \"wrap\"")
        }
    }

    func testWrongTypeErrorNamesKeyAndTypes() {
        XCTAssertThrowsError(try Recipe.parse("[sft]\nlr = \"fast\"\n", source: "Recipes/x.toml")) { error in
            XCTAssertEqual("\(error)", "Recipes/x.toml: [sft] lr must be a number, got string")
        }
        XCTAssertThrowsError(try Recipe.parse("[model]\nlayers = 2.5\n", source: "x.toml")) { error in
            XCTAssertEqual("\(error)", "x.toml: [model] layers must be an integer, got number")
        }
        XCTAssertThrowsError(try Recipe.parse("[model]\ntied = 1\n", source: "x.toml")) { error in
            XCTAssertEqual("\(error)", "x.toml: [model] tied must be a boolean (true or false), got integer")
        }
        XCTAssertThrowsError(try Recipe.parse("[data]\nlevels = [1, 2]\n", source: "x.toml")) { error in
            XCTAssertEqual("\(error)", "x.toml: [data] levels must be a string, got array")
        }
    }

    func testInvalidValuesAreRejectedWithTheKey() {
        XCTAssertThrowsError(try Recipe.parse("[data]\nlevels = \"1,7\"\n", source: "x.toml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("x.toml: [data] levels has level 7"), "\(error)")
        }
        XCTAssertThrowsError(try Recipe.parse("[data]\ntask = \"chess\"\n", source: "x.toml")) { error in
            XCTAssertEqual("\(error)", "x.toml: [data] task must be one of \"arith\", \"overthink\", got \"chess\"")
        }
        XCTAssertEqual(try Recipe.parse("[data]\ntask = \"overthink\"\n", source: "x.toml").data.task, .overthink)
        XCTAssertThrowsError(try Recipe.parse("[sft]\nbatch = 0\n", source: "x.toml")) { error in
            XCTAssertEqual("\(error)", "x.toml: [sft] batch must be ≥ 1, got 0")
        }
        XCTAssertThrowsError(try Recipe.parse("[eval]\nrouting = \"think,maybe\"\n", source: "x.toml")) { error in
            XCTAssertEqual("\(error)", "x.toml: [eval] routing must be a comma list of model, think, short, threshold:T (0 ≤ T ≤ 1), got \"maybe\" in \"think,maybe\"")
        }
        XCTAssertThrowsError(try Recipe.parse("[sft\nlr = 1\n", source: "x.toml")) { error in
            guard case .syntax(let source, _)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(source, "x.toml")
        }
    }

    func testSetOverridesWithTheSameChecks() throws {
        var r = try Recipe.parse("[sft]\nlr = 1e-3\n", source: "x.toml")
        try r.apply(override: "sft.lr=3e-4")
        XCTAssertEqual(r.sft.lr, 3e-4)
        try r.apply(override: "model.tied=true")
        XCTAssertTrue(r.model.tied)
        try r.apply(override: "output.dir=runs/123")
        XCTAssertEqual(r.output.dir, "runs/123", "a string key takes the text verbatim")
        try r.apply(override: "data.dialects=\"sae,aae\"")
        XCTAssertEqual(r.data.dialects, "sae,aae")
        try r.apply(override: "data.eval_dialects=\"sae,aae,pidgin\"")
        XCTAssertEqual(r.data.evalDialects, "sae,aae,pidgin")
        XCTAssertThrowsError(try r.apply(override: "data.eval_dialects=\"sae,pigdin\""))
        try r.apply(override: "stages=sft")
        XCTAssertEqual(r.stages, [.sft])

        XCTAssertThrowsError(try r.apply(override: "sft.lr=abc")) { error in
            XCTAssertEqual("\(error)", "--set sft.lr=abc: [sft] lr must be a number, got string")
        }
        XCTAssertThrowsError(try r.apply(override: "sft.steps=1.5")) { error in
            XCTAssertEqual("\(error)", "--set sft.steps=1.5: [sft] steps must be an integer, got number")
        }
        XCTAssertThrowsError(try r.apply(override: "sft.nope=1")) { error in
            XCTAssertTrue("\(error)".hasPrefix("--set sft.nope=1: unknown key [sft] nope ([sft] keys: init, loss_norm,"), "\(error)")
        }
        XCTAssertThrowsError(try r.apply(override: "ppo.alpha=1")) { error in
            XCTAssertEqual(error as? RecipeError, .unknownSection(source: "--set ppo.alpha=1", section: "ppo"))
        }
        try r.apply(override: "degrpo.alpha=0.01")
        XCTAssertEqual(r.degrpo.config.loss.alpha, 0.01)
        XCTAssertThrowsError(try r.apply(override: "degrpo.loss=ppo")) { error in
            XCTAssertEqual("\(error)", "--set degrpo.loss=ppo: [degrpo] loss must be one of \"degrpo\", \"grpo\", got \"ppo\"")
        }
        XCTAssertThrowsError(try r.apply(override: "sft.lr")) { error in
            XCTAssertEqual(error as? RecipeError, .badOverride("\"sft.lr\" is not of the form section.key=value"))
        }
        XCTAssertEqual(r.sft.lr, 3e-4, "a failed override leaves the value alone")
    }

    func testResolvedTOMLParsesBackToTheSameRecipe() throws {
        var r = Recipe()
        r.sft.lr = 2.5e-3
        r.model.tied = true
        r.data.dialects = "sae=0.5,aae=0.5"
        r.output.dir = "runs/with \"quotes\""
        var back = try Recipe.parse(r.resolvedTOML, source: "resolved")
        back.text = r.text
        XCTAssertEqual(back, r)
    }

    func testPhasesCarryForwardAndApplyOnlyWhatTheyList() throws {
        let r = try Recipe.parse("""
            [data]
            seed = 1
            dialects = "sae"
            [sft]
            steps = 900
            lr = 2e-3
            [[phase]]
            sft.steps = 1000
            sft.loss_norm = "sequence"
            data.seed = 4
            [[phase]]
            [phase.sft]
            steps = 500
            [phase.data]
            dialects = "sae=0.5,words=0.5"
            """, source: "p.toml")
        let phases = try r.phaseRecipes()
        XCTAssertEqual(phases.count, 3)
        XCTAssertEqual(phases.map(\.sft.steps), [900, 1000, 500])
        XCTAssertEqual(phases.map(\.sft.lossNorm), [.token, .sequence, .sequence], "a phase keeps what the one before set")
        XCTAssertEqual(phases.map(\.data.seed), [1, 4, 4])
        XCTAssertEqual(phases.map(\.data.dialects), ["sae", "sae", "sae=0.5,words=0.5"])
        XCTAssertEqual(phases.map(\.sft.lr), [2e-3, 2e-3, 2e-3])
        XCTAssertTrue(phases.allSatisfy { $0.phases.isEmpty })

        var back = try Recipe.parse(r.resolvedTOML, source: "resolved")
        back.text = r.text
        XCTAssertEqual(back, r, "phases survive the resolved TOML")
    }

    func testPhaseErrorsNameTheKey() {
        XCTAssertThrowsError(try Recipe.parse("[[phase]]\nsft.init = \"a.h5\"\n", source: "p.toml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("p.toml: [[phase]] 2: unknown key [sft] init"), "\(error)")
        }
        XCTAssertThrowsError(try Recipe.parse("[[phase]]\ndata.eval_n = 3\n", source: "p.toml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("p.toml: [[phase]] 2: unknown key [data] eval_n"), "\(error)")
        }
        XCTAssertThrowsError(try Recipe.parse("[[phase]]\nsft.lr = \"fast\"\n", source: "p.toml")) { error in
            XCTAssertEqual("\(error)", "p.toml: [[phase]] 2: [sft] lr must be a number, got string")
        }
        XCTAssertThrowsError(try Recipe.parse("[[phase]]\nsteps = 3\n", source: "p.toml")) { error in
            XCTAssertTrue("\(error)".contains("unknown key steps"), "\(error)")
        }
        XCTAssertThrowsError(try Recipe.parse("phase = 3\n", source: "p.toml")) { error in
            XCTAssertTrue("\(error)".contains("phase must be an array of tables"), "\(error)")
        }
    }

    func testSetReachesAPhase() throws {
        var r = try Recipe.parse("[sft]\nsteps = 9\n[[phase]]\nsft.steps = 5\n", source: "p.toml")
        try r.apply(override: "phase.2.sft.steps=7")
        try r.apply(override: "phase.2.data.seed=11")
        let phases = try r.phaseRecipes()
        XCTAssertEqual(phases.map(\.sft.steps), [9, 7])
        XCTAssertEqual(phases.map(\.data.seed), [1, 11])
        XCTAssertThrowsError(try r.apply(override: "phase.3.sft.steps=1")) { error in
            XCTAssertEqual("\(error)", "--set: phase.3.sft.steps: the recipe has phases 2...2 after [sft]")
        }
        XCTAssertThrowsError(try r.apply(override: "phase.2.sft.init=x.h5")) { error in
            XCTAssertTrue("\(error)".contains("unknown key [sft] init"), "\(error)")
        }
        XCTAssertThrowsError(try r.apply(override: "phase.2.sft.steps=many")) { error in
            XCTAssertEqual("\(error)", "--set phase.2.sft.steps=many: [sft] steps must be an integer, got string")
        }
    }
}
